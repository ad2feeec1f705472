/*
 * The operation table: each ops_*.c module fills in its part of struct
 * fuse_lowlevel_ops (ops_table.c puts them together).
 */
#ifndef BOUNCEFS_OPS_H
#define BOUNCEFS_OPS_H

#include <fuse_lowlevel.h>
#include <stdint.h>

struct bfs_fs;

/* Fill in the whole table. */
void ops_fill(struct fuse_lowlevel_ops *ops);

/* Close the directory handles and files the kernel never released: at
 * unmount, before fs_destroy. */
void ops_close_all(struct bfs_fs *fs);

/* The parts, one per module. */
void ops_meta_fill(struct fuse_lowlevel_ops *ops);
void ops_dir_fill(struct fuse_lowlevel_ops *ops);
void ops_file_fill(struct fuse_lowlevel_ops *ops);
void ops_xattr_fill(struct fuse_lowlevel_ops *ops);
void ops_dir_close_all(struct bfs_fs *fs);

/* A successor puts back the opens of its predecessor's state: each open
 * file and directory the kernel holds, at its fh. Returns how many could
 * not be (their fh answers EBADF), and logs them. */
struct restart_state;
unsigned ops_restore_opens(struct bfs_fs *fs, const struct restart_state *s);
struct restart_open;
int ops_file_restore(struct bfs_fs *fs, uint64_t fh, const struct restart_open *o);
int ops_dir_restore(struct bfs_fs *fs, uint64_t fh, const struct restart_open *o);
void ops_file_close_all(struct bfs_fs *fs);

#endif
