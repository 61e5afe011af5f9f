/* loopback.h - for the tests that need a loopback port nobody listens on
 * (one bound, then closed: never an assumed free port such as 1) or a
 * listener that never answers. Exits the test when no socket can be had. */
#ifndef SQL2ES_TEST_LOOPBACK_H
#define SQL2ES_TEST_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback socket bound to a free port (*port), listening when backlog > 0 */
static int loopback_socket(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        (backlog > 0 && listen(fd, backlog) != 0) ||
        getsockname(fd, (struct sockaddr *)&a, &n) != 0) {
        perror("loopback_socket");
        exit(1);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int closed_port(void)
{
    int port;
    close(loopback_socket(0, &port));
    return port;
}

#endif
