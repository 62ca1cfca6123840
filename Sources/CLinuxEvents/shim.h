// epoll and eventfd, which Swift's Glibc module leaves out (the TFTP transfer runner uses them).
#include <sys/epoll.h>
#include <sys/eventfd.h>
