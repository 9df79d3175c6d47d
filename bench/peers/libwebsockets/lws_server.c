/* libwebsockets peer for bench/compare: echo on any path, broadcast on /broadcast (every message
 * any /broadcast connection sends goes to every /broadcast connection, as binary). One service
 * thread, lws's own event loop. Written the way lws's minimal-ws-server-echo example is: each
 * connection queues what it must send in an lws_ring and writes one message per WRITEABLE
 * callback, stopping its reads (rx flow control) while the queue is nearly full. Unlike the
 * example, a message arriving in several pieces is gathered before it is queued, so that its echo
 * is one frame (fastws_bench compares whole frames), and the ring is made at the first message
 * rather than at the open, so an idle connection does not hold one.
 *
 * Usage: lws_server [--port N] [--compress]   (prints "listening on 127.0.0.1:N") */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_DEPTH 128

struct message {
  unsigned char* payload; /* LWS_PRE bytes of room, then the message */
  size_t len;
  int binary;
};

struct session {
  struct session* next_subscriber;
  struct lws* wsi;
  struct lws_ring* ring;
  uint32_t tail;
  int subscriber; /* opened on /broadcast */
  int flow_controlled;
  unsigned char* gathering; /* the message arriving in pieces, LWS_PRE bytes first */
  size_t gathered;
};

static struct session* subscribers;
static volatile int interrupted;

static void destroy_message(void* element) {
  struct message* m = element;
  free(m->payload);
  m->payload = NULL;
}

/* Queues a copy of `len` bytes for `s`; 0 when its ring is full (the message is dropped). */
static int enqueue(struct session* s, const unsigned char* data, size_t len, int binary) {
  struct message m;
  if (!s->ring && !(s->ring = lws_ring_create(sizeof m, RING_DEPTH, destroy_message))) return 0;
  if (!lws_ring_get_count_free_elements(s->ring)) return 0;
  m.payload = malloc(LWS_PRE + len);
  if (!m.payload) return 0;
  memcpy(m.payload + LWS_PRE, data, len);
  m.len = len;
  m.binary = binary;
  lws_ring_insert(s->ring, &m, 1);
  lws_callback_on_writable(s->wsi);
  return 1;
}

static void unsubscribe(struct session* s) {
  for (struct session** p = &subscribers; *p; p = &(*p)->next_subscriber) {
    if (*p == s) {
      *p = s->next_subscriber;
      return;
    }
  }
}

static void received(struct session* s, const unsigned char* data, size_t len, int binary) {
  if (!s->subscriber) {
    enqueue(s, data, len, binary);
    if (lws_ring_get_count_free_elements(s->ring) < 3 && !s->flow_controlled) {
      s->flow_controlled = 1;
      lws_rx_flow_control(s->wsi, 0);
    }
    return;
  }
  for (struct session* to = subscribers; to; to = to->next_subscriber) enqueue(to, data, len, 1);
}

static int callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                    size_t len) {
  struct session* s = user;
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
      char uri[32];
      memset(s, 0, sizeof *s);
      s->wsi = wsi;
      if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0 &&
          strcmp(uri, "/broadcast") == 0) {
        s->subscriber = 1;
        s->next_subscriber = subscribers;
        subscribers = s;
      }
      break;
    }
    case LWS_CALLBACK_RECEIVE: {
      const int whole = lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) &&
                        !lws_remaining_packet_payload(wsi);
      const int binary = lws_frame_is_binary(wsi);
      if (whole && !s->gathering) {
        received(s, in, len, binary);
        break;
      }
      unsigned char* grown = realloc(s->gathering, LWS_PRE + s->gathered + len);
      if (!grown) return -1;
      s->gathering = grown;
      memcpy(s->gathering + LWS_PRE + s->gathered, in, len);
      s->gathered += len;
      if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        received(s, s->gathering + LWS_PRE, s->gathered, binary);
        free(s->gathering);
        s->gathering = NULL;
        s->gathered = 0;
      }
      break;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      const struct message* m = s->ring ? lws_ring_get_element(s->ring, &s->tail) : NULL;
      if (!m) break;
      const int written = lws_write(wsi, m->payload + LWS_PRE, m->len,
                                    m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
      if (written < (int)m->len) return -1;
      lws_ring_consume_single_tail(s->ring, &s->tail, 1);
      if (lws_ring_get_element(s->ring, &s->tail)) lws_callback_on_writable(wsi);
      if (s->flow_controlled && lws_ring_get_count_free_elements(s->ring) > RING_DEPTH - 5) {
        s->flow_controlled = 0;
        lws_rx_flow_control(wsi, 1);
      }
      break;
    }
    case LWS_CALLBACK_CLOSED:
      if (s->subscriber) unsubscribe(s);
      if (s->ring) lws_ring_destroy(s->ring);
      free(s->gathering);
      break;
    default:
      break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {
    {"bench", callback, sizeof(struct session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_extension extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL},
};

static void stop(int signal_number) {
  (void)signal_number;
  interrupted = 1;
}

int main(int argc, char** argv) {
  struct lws_context_creation_info info;
  int port = 9001;
  int compress = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--compress") == 0)
      compress = 1;
  }
  lws_set_log_level(LLL_ERR, NULL);
  memset(&info, 0, sizeof info);
  info.port = port;
  info.iface = "127.0.0.1";
  info.protocols = protocols;
  if (compress) info.extensions = extensions;
  struct lws_context* context = lws_create_context(&info);
  if (!context) {
    fprintf(stderr, "lws_create_context failed\n");
    return 1;
  }
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  printf("listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  while (!interrupted && lws_service(context, 0) >= 0) {
  }
  lws_context_destroy(context);
  return 0;
}
