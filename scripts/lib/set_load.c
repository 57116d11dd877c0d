/*
 * set_load: closed-loop SET load over the Redis protocol, for scripts/bench --durability.
 *
 * Like `redis-benchmark -t set -r KEYSPACE -d VALUE_SIZE -c CLIENTS -n REQUESTS -P PIPELINE`
 * (keys key:%012d drawn at random from the keyspace, a value of 'x's), with one thing
 * redis-benchmark cannot do: with --wait N each pipeline of SETs is followed by
 * `WAIT N 0`, so that a client's SETs count as done only once N replicas have them
 * (Redis's synchronous replication, next to which a kvservice reply is measured). It
 * also spends half redis-benchmark's CPU per request at -P 1 (the same at -P 16), on
 * cores it shares with the servers it measures.
 *
 * Prints one JSON object: {"rps": ..., "p50_ms": ..., "p99_ms": ..., "requests": ...}.
 * A request's latency is its pipeline's, from the write to the last reply (at most 1 s is
 * told apart). Exits 1 on an error reply, a WAIT answered with fewer replicas than asked,
 * a lost connection or no reply for 10 s; 2 on bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Latencies are counted in microsecond buckets up to this bound; longer ones in the last. */
#define LATENCY_BUCKETS 1000000
#define NO_PROGRESS_MS 10000

struct connection {
    int fd;
    long requests_in_flight; /* the SETs of the pipeline in flight */
    long replies_due;        /* replies of the pipeline in flight not yet read */
    int at_line_start;       /* the next byte read starts a reply */
    int in_integer;          /* inside an integer reply (WAIT's, :N) */
    long integer;            /* its digits so far */
    double sent_at;
};

static const char *host = "127.0.0.1";
static int port, clients = 50, pipeline = 1, wait_replicas = 0, keyspace = 100000, value_size = 3;
static long requests = 100000;
static long requests_sent, requests_done;
static uint32_t *latency_us;
static char *value;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char *what) {
    fprintf(stderr, "set_load: %s\n", what);
    exit(1);
}

static void write_all(int fd, const char *bytes, size_t count) {
    while (count > 0) {
        ssize_t written = write(fd, bytes, count);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) fail("a write to the server failed");
        bytes += written;
        count -= (size_t)written;
    }
}

/* Appends a formatted command to `out`, of which `*used` bytes are taken. */
static void append(char *out, size_t capacity, size_t *used, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    int n = vsnprintf(out + *used, capacity - *used, format, arguments);
    va_end(arguments);
    if (n < 0 || (size_t)n >= capacity - *used) fail("a pipeline larger than the output buffer");
    *used += (size_t)n;
}

/* One pipeline of SETs (and its WAIT) on a connection whose previous one is answered. */
static void send_pipeline(struct connection *c, char *out, size_t capacity) {
    size_t used = 0;
    long count = requests - requests_sent < pipeline ? requests - requests_sent : pipeline;
    for (long i = 0; i < count; i++) {
        char key[32];
        int key_length = snprintf(key, sizeof key, "key:%012d", rand() % keyspace);
        append(out, capacity, &used, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", key_length, key, value_size,
               value);
    }
    if (wait_replicas > 0)
        append(out, capacity, &used, "*3\r\n$4\r\nWAIT\r\n$%d\r\n%d\r\n$1\r\n0\r\n",
               snprintf(NULL, 0, "%d", wait_replicas), wait_replicas);
    c->requests_in_flight = count;
    c->replies_due = count + (wait_replicas > 0 ? 1 : 0);
    c->sent_at = now();
    requests_sent += count;
    write_all(c->fd, out, used);
}

static void record_latency(double seconds, long count) {
    long us = (long)(seconds * 1e6);
    if (us >= LATENCY_BUCKETS) us = LATENCY_BUCKETS - 1;
    latency_us[us] += (uint32_t)count;
}

/* The smallest latency that at least `quantile` of the requests did not exceed. */
static double latency_quantile_ms(double quantile) {
    double target = quantile * (double)requests_done;
    long seen = 0;
    for (long us = 0; us < LATENCY_BUCKETS; us++) {
        seen += latency_us[us];
        if (seen > 0 && (double)seen >= target) return (double)us / 1000.0;
    }
    return (double)LATENCY_BUCKETS / 1000.0;
}

static void usage(const char *problem) {
    fprintf(stderr,
            "set_load: %s\nusage: set_load --port PORT [--host IPV4] [--clients N] [--requests N] "
            "[--pipeline N<=1000] [--wait REPLICAS] [--keyspace N] [--value-size BYTES<=65536]\n",
            problem);
    exit(2);
}

/* An option's whole argument as a number in [low, high]; otherwise the usage, exit 2. */
static long number(const char *text, long low, long high, const char *option) {
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != 0 || value < low || value > high) {
        char problem[128];
        snprintf(problem, sizeof problem, "%s must be a number from %ld to %ld, not '%s'", option, low, high, text);
        usage(problem);
    }
    return value;
}

static int connect_to_server(void) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) fail("--host is not an IPv4 address");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) fail("cannot connect to the server");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int main(int argc, char **argv) {
    static const struct option options[] = {
        {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
        {"clients", required_argument, 0, 'c'},  {"requests", required_argument, 0, 'n'},
        {"pipeline", required_argument, 0, 'P'}, {"wait", required_argument, 0, 'w'},
        {"keyspace", required_argument, 0, 'r'}, {"value-size", required_argument, 0, 'd'},
        {0, 0, 0, 0},
    };
    for (int option; (option = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (option) {
        case 'h': host = optarg; break;
        case 'p': port = (int)number(optarg, 1, 65535, "--port"); break;
        case 'c': clients = (int)number(optarg, 1, 10000, "--clients"); break;
        case 'n': requests = number(optarg, 1, 1000000000L, "--requests"); break;
        case 'P': pipeline = (int)number(optarg, 1, 1000, "--pipeline"); break;
        case 'w': wait_replicas = (int)number(optarg, 0, 1000, "--wait"); break;
        case 'r': keyspace = (int)number(optarg, 1, 1000000000L, "--keyspace"); break;
        case 'd': value_size = (int)number(optarg, 1, 65536, "--value-size"); break;
        default: usage("unknown option");
        }
    }
    if (optind < argc) usage("unexpected argument");
    if (port == 0) usage("--port is required");
    /* A lost connection is reported as such, not as a silent death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    value = malloc((size_t)value_size + 1);
    latency_us = calloc(LATENCY_BUCKETS, sizeof *latency_us);
    size_t capacity = (size_t)pipeline * ((size_t)value_size + 64) + 64;
    char *out = malloc(capacity);
    struct connection *connections = calloc((size_t)clients, sizeof *connections);
    if (!value || !latency_us || !out || !connections) fail("out of memory");
    memset(value, 'x', (size_t)value_size);
    value[value_size] = 0;
    srand(1);

    int poller = epoll_create1(0);
    if (poller < 0) fail("epoll_create1 failed");
    for (int i = 0; i < clients; i++) {
        connections[i].fd = connect_to_server();
        connections[i].at_line_start = 1;
        struct epoll_event interest = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(poller, EPOLL_CTL_ADD, connections[i].fd, &interest) != 0) fail("epoll_ctl failed");
    }

    double started = now();
    for (int i = 0; i < clients && requests_sent < requests; i++) send_pipeline(&connections[i], out, capacity);
    char input[65536];
    struct epoll_event ready[256];
    while (requests_done < requests) {
        int count = epoll_wait(poller, ready, 256, NO_PROGRESS_MS);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) fail("no reply for 10 s");
        for (int r = 0; r < count; r++) {
            struct connection *c = &connections[ready[r].data.u32];
            ssize_t received = read(c->fd, input, sizeof input);
            if (received < 0 && errno == EINTR) continue;
            if (received <= 0) fail("the server closed a connection");
            /* Every reply to SET and WAIT is one line: +OK, :N (WAIT's), or an error, -... */
            for (ssize_t i = 0; i < received; i++) {
                char byte = input[i];
                if (c->at_line_start && byte == '-') {
                    fprintf(stderr, "set_load: error reply: %.*s\n", (int)(received - i), input + i);
                    return 1;
                }
                if (c->at_line_start) {
                    c->in_integer = byte == ':';
                    c->integer = 0;
                } else if (c->in_integer && byte >= '0' && byte <= '9' && c->integer < 1000000) {
                    c->integer = c->integer * 10 + (byte - '0');
                }
                c->at_line_start = byte == '\n';
                if (byte != '\n') continue;
                if (c->in_integer && c->integer < wait_replicas) fail("WAIT answered with fewer replicas than asked");
                if (c->replies_due <= 0) fail("a reply to nothing sent");
                if (--c->replies_due > 0) continue;
                record_latency(now() - c->sent_at, c->requests_in_flight);
                requests_done += c->requests_in_flight;
                if (requests_sent < requests) send_pipeline(c, out, capacity);
            }
        }
    }
    double elapsed = now() - started;
    printf("{\"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"requests\": %ld}\n", (double)requests / elapsed,
           latency_quantile_ms(0.50), latency_quantile_ms(0.99), requests);
    return 0;
}
