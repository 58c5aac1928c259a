/* Records /proc files of this process and of a zombie child into argv[1]; see ../README.md. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <pthread.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/eventfd.h>

static const char *out;
static void copy(const char *src, const char *name) {
  char dst[512]; snprintf(dst, sizeof dst, "%s/%s", out, name);
  int in = open(src, O_RDONLY); if (in < 0) { perror(src); exit(1); }
  int o = open(dst, O_WRONLY|O_CREAT|O_TRUNC, 0644); if (o < 0) { perror(dst); exit(1); }
  char buf[65536]; ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) if (write(o, buf, n) != n) exit(1);
  close(in); close(o);
}
static void *idle(void *a) { (void)a; pause(); return 0; }
static void on_usr1(int s) { (void)s; }

int main(int argc, char **argv) {
  out = argv[1];
  umask(027);
  gid_t groups[] = {4, 24, 100};
  if (setgroups(3, groups)) perror("setgroups");
  prctl(PR_SET_NAME, "a\\b\nc d)", 0, 0, 0);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR1, on_usr1);
  sigset_t set; sigemptyset(&set); sigaddset(&set, SIGUSR2); sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, 0);
  raise(SIGUSR2);
  pthread_t t[2]; pthread_create(&t[0], 0, idle, 0); pthread_create(&t[1], 0, idle, 0);

  int fd = open("/tmp/corral-fx/my file.bin", O_RDWR|O_CREAT|O_TRUNC, 0600);
  if (ftruncate(fd, 16384)) exit(1);
  char *p = mmap(0, 16384, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0); memset(p, 1, 8192);
  int fd2 = open("/tmp/corral-fx/gone", O_RDWR|O_CREAT|O_TRUNC, 0600);
  if (ftruncate(fd2, 4096)) exit(1);
  char *q = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd2, 0); volatile char c = q[0]; (void)c;
  unlink("/tmp/corral-fx/gone");
  char *a = mmap(0, 5*4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0); memset(a, 2, 3*4096);
  char *h = malloc(300000); memset(h, 3, 300000);

  int wa = open("/tmp/corral-fx/append.log", O_WRONLY|O_CREAT|O_APPEND, 0600);
  if (write(wa, "hello\n", 6) != 6) exit(1);
  int rw = open("/tmp/corral-fx/my file.bin", O_RDWR|O_CLOEXEC);
  lseek(rw, 12345, SEEK_SET);
  int ev = eventfd(7, EFD_NONBLOCK);
  char path[128];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", wa); copy(path, "fdinfo_append");
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", rw); copy(path, "fdinfo_rdwr_cloexec");
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", ev); copy(path, "fdinfo_eventfd");

  copy("/proc/self/status", "status_threads");
  copy("/proc/self/smaps", "smaps_small");
  copy("/proc/self/smaps_rollup", "smaps_rollup_small");
  copy("/proc/self/statm", "statm_small");
  copy("/proc/self/io", "io_small");
  copy("/proc/self/cmdline", "cmdline_small");

  pid_t z = fork();
  if (z == 0) _exit(3);
  usleep(200000);
  snprintf(path, sizeof path, "/proc/%d/status", z); copy(path, "status_zombie");
  snprintf(path, sizeof path, "/proc/%d/statm", z); copy(path, "statm_zombie");
  snprintf(path, sizeof path, "/proc/%d/cmdline", z); copy(path, "cmdline_zombie");
  waitpid(z, 0, 0);
  return 0;
}
