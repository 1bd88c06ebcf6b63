"""Flat root file system tars: paths, links, special files, modes, sizes, compression."""
import bz2
import gzip
import lzma
import tarfile

from common import *  # noqa: F401,F403 (builders and helpers)


# --- flat root file system tars: paths and links -----------------------------------

@case
def tar_dotdot_member(p): rootfs(p, [member("../../../../../../tmp/hpai-hostile-escape/dotdot", data=b"pwned")])
@case
def tar_dotdot_inside(p): rootfs(p, [member("etc/../../escape-inside", data=b"pwned")])
@case
def tar_absolute_member(p): rootfs(p, [member(ESCAPE + "/absolute", data=b"pwned")])
@case
def tar_symlink_dir_escape(p): rootfs(p, [member("evil", tarfile.SYMTYPE, link=ESCAPE), member("evil/through-symlink", data=b"pwned")])
@case
def tar_symlink_relative_escape(p):
    rootfs(p, [member("evil", tarfile.SYMTYPE, link="../../../../../../../../tmp/hpai-hostile-escape"),
               member("evil/through-relative", data=b"pwned")])
@case
def tar_symlink_chain_escape(p):
    rootfs(p, [member("a", tarfile.SYMTYPE, link="b"), member("b", tarfile.SYMTYPE, link="c/../../.."),
               member("c/", tarfile.DIRTYPE), member("a/tmp/hpai-hostile-escape/chain", data=b"pwned")])
@case
def tar_symlink_root_overwrite(p):
    rootfs(p, [member("root-link", tarfile.SYMTYPE, link="/"), member("root-link/etc/hostname", data=b"pwned\n")])
@case
def tar_symlink_magic_proc(p):
    rootfs(p, [member("m", tarfile.SYMTYPE, link="/proc/self/root/tmp/hpai-hostile-escape"), member("m/magic", data=b"pwned")])
@case
def tar_symlink_then_replace_file(p):
    # A symlink to a host file, then a regular file of the same name: the file must
    # replace the link, not write through it.
    rootfs(p, [member("etc/passwd", tarfile.SYMTYPE, link=ESCAPE + "/passwd"), member("etc/passwd", data=b"root:x:0:0::/:/bin/sh\n")])
@case
def tar_hardlink_host_file(p): rootfs(p, [member("etc/stolen", tarfile.LNKTYPE, link="/etc/shadow")])
@case
def tar_hardlink_dotdot(p): rootfs(p, [member("stolen", tarfile.LNKTYPE, link="../../../../../../etc/passwd")])
@case
def tar_hardlink_through_symlink(p):
    rootfs(p, [member("hostetc", tarfile.SYMTYPE, link="/etc"), member("stolen", tarfile.LNKTYPE, link="hostetc/passwd")])
@case
def tar_hardlink_to_directory(p): rootfs(p, [member("dirlink", tarfile.LNKTYPE, link="etc")])
@case
def tar_write_through_hardlinked_symlink(p):
    # A hard link to a symlink that points out, then a file written "through" it.
    rootfs(p, [member("s", tarfile.SYMTYPE, link=ESCAPE + "/hl"), member("h", tarfile.LNKTYPE, link="s"),
               member("h", data=b"pwned")])


# --- special files and modes -----------------------------------------------------

@case
def tar_char_device(p): rootfs(p, [member("mem", tarfile.CHRTYPE)])
@case
def tar_block_device(p): rootfs(p, [member("disk", tarfile.BLKTYPE)])
@case
def tar_fifo(p): rootfs(p, [member("pipe", tarfile.FIFOTYPE)])
@case
def tar_dev_content(p): rootfs(p, [member("dev/", tarfile.DIRTYPE), member("dev/sda", data=b"fake disk")])
@case
def tar_setuid_root_shell(p): rootfs(p, [member("bin/rootshell", data=b"#!/bin/sh\n", mode=0o4755)])
@case
def tar_setgid_directory(p): rootfs(p, [member("shared/", tarfile.DIRTYPE, mode=0o2775), member("shared/f", data=b"x")])
@case
def tar_unreadable_tree(p):
    # Mode 000 directories and files: the user must still be able to delete the image.
    rootfs(p, [member("locked/", tarfile.DIRTYPE, mode=0), member("locked/inner/", tarfile.DIRTYPE, mode=0),
               member("locked/inner/f", data=b"x", mode=0)])


# --- size and shape ------------------------------------------------------------------

@case
def tar_sparse_1tib(p): rootfs(p, [sparse_member("huge-sparse", 1 << 40)])
@case
def tar_sparse_impossible_size(p): rootfs(p, [sparse_member("too-big", (1 << 63) - 1)])
@case
def tar_deep_nesting(p):
    # 1500 levels of directories: legal, must import and stay removable.
    rootfs(p, [member("d/" * 1500 + "bottom", data=b"deep")])
@case
def tar_path_too_long(p): rootfs(p, [member("x/" * 2100 + "f", data=b"long")])
@case
def tar_component_too_long(p): rootfs(p, [member("n" * 300, data=b"long name")])
@case
def tar_many_empty_entries(p):
    rootfs(p, [member(f"many/{i}", data=b"") for i in range(20000)])



# --- compression -------------------------------------------------------------------

@case
def gzip_truncated(p):
    with open(p, "wb") as f:
        f.write(gzip.compress(tar_bytes(base_members() + [member("big", data=RANDOM.randbytes(200000))]), mtime=0)[:60000])
@case
def gzip_corrupt(p):
    data = bytearray(gzip.compress(tar_bytes(base_members() + [member("big", data=RANDOM.randbytes(100000))]), mtime=0))
    for i in range(2000, 2200):
        data[i] ^= 0x5A
    with open(p, "wb") as f:
        f.write(data)
@case
def gzip_bad_crc(p):
    data = bytearray(gzip.compress(tar_bytes(base_members()), mtime=0))
    data[-8] ^= 0xFF  # CRC32 in the trailer
    with open(p, "wb") as f:
        f.write(data)
@case
def xz_truncated(p):
    with open(p, "wb") as f:
        f.write(lzma.compress(tar_bytes(base_members() + [member("big", data=RANDOM.randbytes(100000))]))[:50000])
@case
def bzip2_truncated(p):
    with open(p, "wb") as f:
        f.write(bz2.compress(tar_bytes(base_members() + [member("big", data=RANDOM.randbytes(100000))]))[:50000])
@case
def zstd_garbage(p):
    with open(p, "wb") as f:
        f.write(b"\x28\xb5\x2f\xfd" + RANDOM.randbytes(5000))
@case
def tar_bad_checksum(p):
    data = bytearray(tar_bytes(base_members()))
    data[100] ^= 0x01  # mode field of the first header: its checksum no longer matches
    with open(p, "wb") as f:
        f.write(data)
@case
def tar_truncated_member(p):
    with open(p, "wb") as f:
        f.write(tar_bytes(base_members() + [member("cut", data=RANDOM.randbytes(100000))])[:40000])
@case
def not_an_archive(p):
    with open(p, "wb") as f:
        f.write(RANDOM.randbytes(4096))
@case
def empty_file(p): open(p, "wb").close()
