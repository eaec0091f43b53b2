/* executor.h -- `mesos_api executor`, the command executor process. */
#ifndef EXECUTOR_H
#define EXECUTOR_H
int executor_main(int argc, char **argv);
#endif
