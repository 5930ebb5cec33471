/*
 * Description: strangers at a port (tests/security_strangers.sh).
 *   idleconn HOST PORT N SECONDS
 * opens N TCP connections to HOST:PORT that never send a byte, prints
 * "idleconn: N open", and holds them for SECONDS (connections the other side
 * closes are not replaced).  Exit 0, or 2 when no connection could be made.
 *   idleconn HOST PORT get PATH     an HTTP GET: prints the status line
 *   idleconn HOST PORT nul          a GET with a NUL byte in it: the same
 * (each waits at most 8 s for the answer; "idleconn: no answer" else).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int http(const struct sockaddr_in *a, const char *how, const char *path)
{
	char req[512], ans[512];
	struct timeval tv = { .tv_sec = 8 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), len;
	size_t got = 0;

	if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		perror("idleconn: connect");
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!strcmp(how, "nul"))
		len = snprintf(req, sizeof(req), "GET /%cx HTTP/1.1\r\nHost: x\r\n\r\n", 0);
	else
		len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	if (write(fd, req, (size_t)len) != len) {
		perror("idleconn: write");
		return 2;
	}
	for (;;) {
		ssize_t k = read(fd, ans + got, sizeof(ans) - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (memchr(ans, '\n', got) || got == sizeof(ans) - 1)
			break;
	}
	ans[got] = '\0';
	ans[strcspn(ans, "\r\n")] = '\0';
	printf("%s\n", got ? ans : "idleconn: no answer");
	close(fd);
	return got ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int n, secs, open_n = 0;

	if ((argc != 5 && !(argc == 4 && !strcmp(argv[3], "nul"))) || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: idleconn HOST PORT N SECONDS\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	if (!strcmp(argv[3], "get") || !strcmp(argv[3], "nul"))
		return http(&a, argv[3], argc > 4 ? argv[4] : "/");
	n = atoi(argv[3]);
	secs = atoi(argv[4]);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("idleconn: connect");
			if (fd >= 0)
				close(fd);
			continue;
		}
		open_n++;
	}
	printf("idleconn: %d open\n", open_n);
	fflush(stdout);
	if (!open_n)
		return 2;
	sleep((unsigned)secs);
	return 0;
}
