"""Skeleton of a data-parallel training script run by hpai-run under a batch launcher.

    srun hpai-run --torch-env --gpu-per-rank IMG -- python /model/train.py
    mpiexec -n 8 hpai-run --torch-env IMG -- python /model/train.py   # Horovod: mpiexec alone

torch.distributed reads MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK (hpai-run
--torch-env sets them from the launcher's variables) and LOCAL_RANK picks the GPU;
with --gpu-per-rank each rank already sees only its own GPU(s) as device 0...
Horovod needs none of them: it takes ranks from MPI. Without torch installed the
script prints what it would do, so the launch itself can be tested anywhere.
"""
import os
import sys


def setting(name):
    value = os.environ.get(name)
    if value is None:
        sys.exit(f"train.py: {name} is not set; run under hpai-run --torch-env")
    return value


def main():
    rank, world = int(setting("RANK")), int(setting("WORLD_SIZE"))
    local_rank = int(setting("LOCAL_RANK"))
    master = f"{setting('MASTER_ADDR')}:{setting('MASTER_PORT')}"
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "none")
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        print(f"rank {rank}/{world} local {local_rank} master {master} gpus {gpus}: torch not installed, dry run")
        return
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)  # env:// rendezvous from the variables above
    device = torch.device("cuda", 0) if backend == "nccl" else torch.device("cpu")
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(1024, 1024).to(device))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    steps = int(os.environ.get("STEPS", "100"))
    for step in range(steps):
        optimizer.zero_grad()
        loss = model(torch.randn(64, 1024, device=device)).square().mean()
        loss.backward()  # gradients allreduced across all ranks here
        optimizer.step()
        if rank == 0 and step % 10 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    # Data parallel: every rank must end with the very same parameters.
    total = sum(p.detach().double().sum().item() for p in model.parameters())
    print(f"rank {rank}/{world}: trained {steps} steps, parameter sum {total:.9f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
