// The engine's native send path for forwarded RTP (issue 13): SRTP protection and the UDP send of one
// packet to one sink in a single call from JavaScript.
//
// Why native: a forwarded packet cost 28-35 µs in Node, and 400 viewers per core at a presenter's full
// rate needs under 23. About 12 µs of it was node:crypto building a new cipher object per packet (it
// cannot reuse one with a new IV) and dgram's per-send machinery (a SendWrap, a request object, the
// address checks) around the system call. Here each sender keeps one OpenSSL cipher context (and one
// HMAC context) keyed once, a packet only sets its IV, and the datagram goes out with sendto() on the
// socket werift already owns, from a buffer on the stack. Nothing is allocated per packet.
//
// The bytes are RFC 3711 / RFC 7714's, the same as werift's ciphers and rtp-send.ts's JavaScript
// (kurento/test/rtp-send.test.ts compares all three). OpenSSL is Node's own: an addon is loaded into
// the node binary, which exports its OpenSSL, so nothing is linked and the same build loads under
// every Node version that has N-API 8 (20 and 24 here).
#define NAPI_VERSION 8
#define OPENSSL_SUPPRESS_DEPRECATED // HMAC_CTX: reused with its key (HMAC_Init_ex with a NULL key), no provider lookup per packet
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define GCM_TAG 16
#define CM_TAG 10
#define STACK_PACKET 2048

typedef struct {
  int gcm;
  EVP_CIPHER_CTX *cipher;
  HMAC_CTX *hmac; // AES-CM only
  unsigned char salt[14];
  size_t salt_len;
} srtp_context;

static void context_free(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  srtp_context *c = data;
  if (c->cipher) EVP_CIPHER_CTX_free(c->cipher);
  if (c->hmac) HMAC_CTX_free(c->hmac);
  free(c);
}

// ---- argument helpers: each throws a TypeError (and returns 0) on a wrong argument --------------
static int arg_buffer(napi_env env, napi_value v, const char *name, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is || napi_get_buffer_info(env, v, data, len) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a Buffer", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  return 1;
}
static int arg_u32(napi_env env, napi_value v, const char *name, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  return 1;
}
static int arg_context(napi_env env, napi_value v, srtp_context **out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, (void **)out) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "context must be made by context()");
    return 0;
  }
  return 1;
}
static napi_value number(napi_env env, double n) {
  napi_value v;
  napi_create_double(env, n, &v);
  return v;
}

// ---- context(gcm, key, salt, auth?) -------------------------------------------------------------
// One sender's SRTP session keys (RFC 3711 §4.3 derived, as werift derived them): AES-128-GCM with a
// 12-byte salt, or AES-128-CM with a 14-byte salt and a 20-byte HMAC-SHA1 key.
static napi_value Context(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool gcm = false;
  void *key, *salt, *auth = NULL;
  size_t key_len, salt_len, auth_len = 0;
  if (argc < 3 || napi_get_value_bool(env, argv[0], &gcm) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "context(gcm: boolean, key, salt, auth?)");
    return NULL;
  }
  if (!arg_buffer(env, argv[1], "key", &key, &key_len) || !arg_buffer(env, argv[2], "salt", &salt, &salt_len)) return NULL;
  if (!gcm && !arg_buffer(env, argv[3], "auth", &auth, &auth_len)) return NULL; // argv[3] is undefined when not passed
  // A GCM salt is 12 bytes (RFC 7714 §12); werift derives 14 as for CM and uses the first 12.
  if (gcm && salt_len >= 12) salt_len = 12;
  if (key_len != 16 || salt_len != (gcm ? 12u : 14u) || (!gcm && auth_len == 0)) {
    napi_throw_range_error(env, "ERR_SRTP_KEYS", "AES-128: a 16-byte key, a 12-byte (GCM) or 14-byte (CM) salt, and an HMAC key for CM");
    return NULL;
  }
  srtp_context *c = calloc(1, sizeof *c);
  if (!c) { napi_throw_error(env, "ERR_SRTP_MEMORY", "out of memory"); return NULL; }
  c->gcm = gcm;
  c->salt_len = salt_len;
  memcpy(c->salt, salt, salt_len);
  c->cipher = EVP_CIPHER_CTX_new();
  int ok = c->cipher && EVP_EncryptInit_ex(c->cipher, gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr(), NULL, key, NULL) == 1;
  if (ok && !gcm) {
    c->hmac = HMAC_CTX_new();
    ok = c->hmac && HMAC_Init_ex(c->hmac, auth, (int)auth_len, EVP_sha1(), NULL) == 1;
  }
  napi_value ext;
  if (!ok || napi_create_external(env, c, context_free, NULL, &ext) != napi_ok) {
    context_free(env, c, NULL);
    napi_throw_error(env, "ERR_SRTP_OPENSSL", "OpenSSL could not set up the SRTP cipher");
    return NULL;
  }
  return ext;
}

// ---- protection ---------------------------------------------------------------------------------
/** Writes header, encrypted payload and tag to `out`; returns its length, 0 when OpenSSL failed. */
static size_t protect(srtp_context *c, const unsigned char *hdr, size_t hlen, const unsigned char *payload, size_t plen,
                      uint32_t ssrc, uint32_t seq, uint32_t roc, unsigned char *out) {
  unsigned char iv[16] = {0};
  int n;
  memcpy(out, hdr, hlen);
  if (c->gcm) {
    // RFC 7714 §8.1: 00 00 || SSRC || ROC || SEQ, XOR the 12-byte salt; the header is the AAD.
    iv[2] = ssrc >> 24; iv[3] = ssrc >> 16; iv[4] = ssrc >> 8; iv[5] = ssrc;
    iv[6] = roc >> 24; iv[7] = roc >> 16; iv[8] = roc >> 8; iv[9] = roc;
    iv[10] = seq >> 8; iv[11] = seq;
    for (int i = 0; i < 12; i++) iv[i] ^= c->salt[i];
    if (EVP_EncryptInit_ex(c->cipher, NULL, NULL, NULL, iv) != 1) return 0;
    if (EVP_EncryptUpdate(c->cipher, NULL, &n, hdr, (int)hlen) != 1) return 0;
    if (EVP_EncryptUpdate(c->cipher, out + hlen, &n, payload, (int)plen) != 1) return 0;
    if (EVP_EncryptFinal_ex(c->cipher, out + hlen + plen, &n) != 1) return 0;
    if (EVP_CIPHER_CTX_ctrl(c->cipher, EVP_CTRL_GCM_GET_TAG, GCM_TAG, out + hlen + plen) != 1) return 0;
    return hlen + plen + GCM_TAG;
  }
  // RFC 3711 §4.1.1: IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16), index = ROC || SEQ.
  iv[4] = ssrc >> 24; iv[5] = ssrc >> 16; iv[6] = ssrc >> 8; iv[7] = ssrc;
  iv[8] = roc >> 24; iv[9] = roc >> 16; iv[10] = roc >> 8; iv[11] = roc;
  iv[12] = seq >> 8; iv[13] = seq;
  for (size_t i = 0; i < c->salt_len; i++) iv[i] ^= c->salt[i];
  if (EVP_EncryptInit_ex(c->cipher, NULL, NULL, NULL, iv) != 1) return 0;
  if (EVP_EncryptUpdate(c->cipher, out + hlen, &n, payload, (int)plen) != 1) return 0;
  // §4.2: the tag is HMAC-SHA1 over the authenticated portion (header, ciphertext) and the ROC, cut to 80 bits.
  unsigned char roc_bytes[4] = {roc >> 24, roc >> 16, roc >> 8, roc};
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len;
  if (HMAC_Init_ex(c->hmac, NULL, 0, NULL, NULL) != 1) return 0;
  if (HMAC_Update(c->hmac, out, hlen + plen) != 1 || HMAC_Update(c->hmac, roc_bytes, 4) != 1) return 0;
  if (HMAC_Final(c->hmac, mac, &mac_len) != 1) return 0;
  memcpy(out + hlen + plen, mac, CM_TAG);
  return hlen + plen + CM_TAG;
}

typedef struct {
  srtp_context *c;
  void *hdr, *payload;
  size_t hlen, plen;
  uint32_t ssrc, seq, roc;
} packet_args;

/** Reads (context, header, payload, ssrc, seq, roc) from argv[0..5]. */
static int packet_from(napi_env env, napi_value *argv, packet_args *p) {
  if (!arg_context(env, argv[0], &p->c)) return 0;
  if (!arg_buffer(env, argv[1], "header", &p->hdr, &p->hlen) || !arg_buffer(env, argv[2], "payload", &p->payload, &p->plen)) return 0;
  if (!arg_u32(env, argv[3], "ssrc", &p->ssrc) || !arg_u32(env, argv[4], "seq", &p->seq) || !arg_u32(env, argv[5], "roc", &p->roc)) return 0;
  if (p->hlen < 12 || p->plen > 0x10000) {
    napi_throw_range_error(env, "ERR_SRTP_PACKET", "an RTP header of at least 12 bytes and a payload of at most 64 KiB");
    return 0;
  }
  return 1;
}

// protect(context, header, payload, ssrc, seq, roc) → Buffer: the SRTP packet (tests; a send that must be queued).
static napi_value Protect(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  packet_args p;
  if (argc < 6) { napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "protect(context, header, payload, ssrc, seq, roc)"); return NULL; }
  if (!packet_from(env, argv, &p)) return NULL;
  unsigned char stack[STACK_PACKET];
  size_t need = p.hlen + p.plen + GCM_TAG;
  unsigned char *out = need <= sizeof stack ? stack : malloc(need);
  if (!out) { napi_throw_error(env, "ERR_SRTP_MEMORY", "out of memory"); return NULL; }
  size_t n = protect(p.c, p.hdr, p.hlen, p.payload, p.plen, p.ssrc, p.seq, p.roc, out);
  napi_value buf = NULL;
  if (n == 0) napi_throw_error(env, "ERR_SRTP_OPENSSL", "OpenSSL failed to protect the packet");
  else napi_create_buffer_copy(env, n, out, NULL, &buf);
  if (out != stack) free(out);
  return buf;
}

// send(fd, context, header, payload, ssrc, seq, roc, sockaddr) → bytes sent, or -errno with nothing
// sent (EAGAIN: the socket's buffer is full); the caller then sends the same bytes through dgram,
// which queues them or reports the error as for any other packet.
static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t fd;
  packet_args p;
  void *addr;
  size_t addr_len;
  if (argc < 8) { napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "send(fd, context, header, payload, ssrc, seq, roc, sockaddr)"); return NULL; }
  if (!arg_u32(env, argv[0], "fd", &fd) || !packet_from(env, argv + 1, &p) || !arg_buffer(env, argv[7], "sockaddr", &addr, &addr_len)) return NULL;
  unsigned char stack[STACK_PACKET];
  size_t need = p.hlen + p.plen + GCM_TAG;
  unsigned char *out = need <= sizeof stack ? stack : malloc(need);
  if (!out) return number(env, -ENOMEM);
  size_t n = protect(p.c, p.hdr, p.hlen, p.payload, p.plen, p.ssrc, p.seq, p.roc, out);
  ssize_t sent = n == 0 ? -1 : sendto((int)fd, out, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)addr, (socklen_t)addr_len);
  int err = n == 0 ? EIO : errno;
  if (out != stack) free(out);
  return number(env, sent < 0 ? -(double)err : (double)sent);
}

// sockaddr(fd, ip, port) → Buffer with the sockaddr sendto() takes on that socket (an IPv4 address on
// an IPv6 socket as ::ffff:a.b.c.d), or undefined when the address is not a literal this handles.
static napi_value SockAddr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], undefined;
  napi_get_undefined(env, &undefined);
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t fd, port;
  char ip[64];
  size_t ip_len;
  if (argc < 3 || !arg_u32(env, argv[0], "fd", &fd) || !arg_u32(env, argv[2], "port", &port)) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &ip_len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "ip must be a string");
    return NULL;
  }
  if (port > 65535) return undefined;
  struct sockaddr_storage own;
  socklen_t own_len = sizeof own;
  if (getsockname((int)fd, (struct sockaddr *)&own, &own_len) != 0) return undefined;
  struct sockaddr_storage sa;
  memset(&sa, 0, sizeof sa);
  size_t sa_len;
  struct in_addr v4;
  struct in6_addr v6;
  if (own.ss_family == AF_INET && inet_pton(AF_INET, ip, &v4) == 1) {
    struct sockaddr_in *s = (struct sockaddr_in *)&sa;
    s->sin_family = AF_INET; s->sin_port = htons((uint16_t)port); s->sin_addr = v4;
    sa_len = sizeof *s;
  } else if (own.ss_family == AF_INET6 && (inet_pton(AF_INET6, ip, &v6) == 1 || inet_pton(AF_INET, ip, &v4) == 1)) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&sa;
    s->sin6_family = AF_INET6; s->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, ip, &v6) == 1) s->sin6_addr = v6;
    else { s->sin6_addr.s6_addr[10] = 0xff; s->sin6_addr.s6_addr[11] = 0xff; memcpy(&s->sin6_addr.s6_addr[12], &v4, 4); }
    sa_len = sizeof *s;
  } else {
    return undefined; // a scoped (fe80::…%if) or unparsable address: dgram sends those
  }
  void *data;
  napi_value buf;
  if (napi_create_buffer_copy(env, sa_len, &sa, &data, &buf) != napi_ok) return NULL;
  return buf;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor fns[] = {
    {"context", NULL, Context, NULL, NULL, NULL, napi_enumerable, NULL},
    {"protect", NULL, Protect, NULL, NULL, NULL, napi_enumerable, NULL},
    {"send", NULL, Send, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sockaddr", NULL, SockAddr, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}
