/* files.h -- READ_FILE's answer, shared by the master and the agent: both
 * Operator APIs read a file with upstream's offset/length rules and answer
 * Response{type READ_FILE (7), read_file (8) {size 1, data 2}}. */
#ifndef FILES_H
#define FILES_H
#include "api.h"

/* Answer the READ_FILE call `c` (its offset 2 and length 3) from the file
 * at `real`, a path already resolved and allowed: 400 for a directory,
 * 500 when it cannot be read, else the size and at most 16 pages. */
void files_read_answer(struct api_ctx *c, const char *real);

#endif
