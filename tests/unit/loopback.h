/* loopback.h - for the tests that need a loopback port nobody listens on:
 * one bound, then closed (never an assumed free port such as 1). Exits the
 * test when no socket can be had. */
#ifndef SQL2ES_TEST_LOOPBACK_H
#define SQL2ES_TEST_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) != 0) {
        perror("closed_port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

#endif
