/* version.c -- build facts for GET_VERSION and /version. The Makefile
 * passes them in when it compiles this one file. */
#include "master.h"

#ifndef MESOS_API_VERSION
#define MESOS_API_VERSION "1.12.0"
#endif
#ifndef BUILD_DATE
#define BUILD_DATE "unknown"
#endif
#ifndef BUILD_TIME
#define BUILD_TIME 0
#endif
#ifndef BUILD_USER
#define BUILD_USER "unknown"
#endif
#ifndef BUILD_GIT_SHA
#define BUILD_GIT_SHA ""
#endif

const char *build_version = MESOS_API_VERSION;
const char *build_date = BUILD_DATE;
const char *build_user = BUILD_USER;
const char *build_git_sha = BUILD_GIT_SHA;
double build_time = BUILD_TIME;
