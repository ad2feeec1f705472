/*
 * The operation table: each ops_*.c module fills in its part of struct
 * fuse_lowlevel_ops (ops_table.c puts them together).
 */
#ifndef BOUNCEFS_OPS_H
#define BOUNCEFS_OPS_H

#include <fuse_lowlevel.h>

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
void ops_file_close_all(struct bfs_fs *fs);

#endif
