// Fuzzes TlsRecordLayer's input path (record headers, lengths, decryption, TLS 1.3 inner type and
// padding, alerts, KeyUpdate, TLS 1.2 renegotiation) over a real socketpair, with a few writes.
//
// Input: one settings byte (value % 6: TLS 1.3 or 1.2 with AES-128-GCM, AES-256-GCM or
// ChaCha20-Poly1305; bit 6: a small send buffer on the layer's socket, so its writes stay partly
// unsent; bit 7: the peer shuts its side down at the end), then operations, each a control byte c
// whose low 2 bits say which:
//   0 raw:        (c >> 2) + 1 bytes copied from the input into the stream as they are;
//   1 sealed:     a type byte, a 2-byte length (up to 32767; content the input lacks is filled),
//                 sealed with the peer's keys as a valid record (TLS 1.3: c >> 2 padding zeros);
//   2 KeyUpdate:  TLS 1.3: a sealed KeyUpdate with request (c >> 2) & 3, after which the peer
//                 seals with its next keys; TLS 1.2: a sealed ClientHello (renegotiation);
//   3 drive:      (c >> 2) & 3: 0 deliver up to (next byte + 1) * 4 stream bytes, then read with a
//                 buffer of next byte + 1; 1 write next byte * 128 bytes; 2 drain what the
//                 layer wrote; 3 deliver the whole stream and read it.
// At the end the whole stream is delivered and read, then a write and close_notify.
// Properties: no crash, leak or undefined behaviour (ASan/UBSan); reads and writes never report
// more bytes than they were given, done always moves bytes, a failure carries an error and is
// final; and the application data read is exactly a prefix of what the peer sealed as such.
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "net/tls_key_schedule.hpp"
#include "net/tls_record_layer.hpp"
#include "net/tls_traffic_keys.hpp"

namespace {

using fastws::net::IoResult;
using fastws::net::IoStatus;
using fastws::net::SessionKeys;
using fastws::net::TlsRecordLayer;
using fastws::net::TlsRecordVersion;
using fastws::net::TrafficKeys;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

constexpr unsigned char application_data = 23;
constexpr unsigned char handshake = 22;
constexpr std::size_t max_stream = 256 * 1024;  // bounds memory and time per input

// Reads the input front to back; past its end every byte is 0.
class InputReader {
 public:
  InputReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ == size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  // Up to `count` bytes, fewer when the input ends first.
  std::vector<unsigned char> bytes(std::size_t count) {
    count = std::min(count, size_ - at_);
    std::vector<unsigned char> out(data_ + at_, data_ + at_ + count);
    at_ += count;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

struct Suite {
  TlsRecordVersion version;
  int cipher_nid;
  std::size_t key_size;
};

constexpr Suite suites[6] = {
    {TlsRecordVersion::tls13, NID_aes_128_gcm, 16},
    {TlsRecordVersion::tls13, NID_aes_256_gcm, 32},
    {TlsRecordVersion::tls13, NID_chacha20_poly1305, 32},
    {TlsRecordVersion::tls12, NID_aes_128_gcm, 16},
    {TlsRecordVersion::tls12, NID_aes_256_gcm, 32},
    {TlsRecordVersion::tls12, NID_chacha20_poly1305, 32},
};

// Fixed keys for one direction: TLS 1.3 derives them from a secret (KeyUpdate needs it).
TrafficKeys fixed_keys(const Suite& suite, const EVP_MD* hash, unsigned char seed) {
  TrafficKeys keys;
  if (suite.version == TlsRecordVersion::tls13) {
    keys.secret.assign(static_cast<std::size_t>(EVP_MD_get_size(hash)), seed);
    check(fastws::net::tls13_traffic_keys(hash, keys.secret, suite.key_size, keys));
    return keys;
  }
  keys.key.assign(suite.key_size, seed);
  // RFC 5288: AES-GCM's 4-byte salt; RFC 7905: ChaCha20-Poly1305's 12-byte IV.
  keys.iv.assign(suite.cipher_nid == NID_chacha20_poly1305 ? 12 : 4, seed ^ 0x5A);
  return keys;
}

// The client's side: seals records as a correct peer does (RFC 8446 5.2, RFC 5246 6.2.3.3).
class SealingPeer {
 public:
  SealingPeer(const Suite& suite, const EVP_CIPHER* cipher, const EVP_MD* hash, TrafficKeys keys)
      : suite_(suite), hash_(hash), keys_(std::move(keys)), context_(EVP_CIPHER_CTX_new()) {
    check(context_ != nullptr &&
          EVP_EncryptInit_ex(context_.get(), cipher, nullptr, keys_.key.data(), nullptr) == 1);
  }

  void seal(unsigned char type, std::vector<unsigned char> content, std::size_t padding,
            std::vector<unsigned char>& stream) {
    const bool tls13 = suite_.version == TlsRecordVersion::tls13;
    const bool explicit_nonce = !tls13 && keys_.iv.size() == 4;
    if (tls13) {
      content.push_back(type);
      content.resize(content.size() + padding, 0);
    }
    const std::size_t body = (explicit_nonce ? 8 : 0) + content.size() + 16;
    const unsigned char header[5] = {tls13 ? application_data : type, 3, 3,
                                     static_cast<unsigned char>(body >> 8),
                                     static_cast<unsigned char>(body)};
    unsigned char aad[13];
    std::size_t aad_size = 5;
    if (tls13) {
      std::memcpy(aad, header, 5);
    } else {
      put_u64(aad, sequence_);
      aad[8] = type;
      aad[9] = 3;
      aad[10] = 3;
      aad[11] = static_cast<unsigned char>(content.size() >> 8);
      aad[12] = static_cast<unsigned char>(content.size());
      aad_size = 13;
    }
    unsigned char sequence[8];
    put_u64(sequence, sequence_);
    unsigned char nonce[12] = {};
    std::copy(keys_.iv.begin(), keys_.iv.end(), nonce);
    if (explicit_nonce) {
      std::memcpy(nonce + 4, sequence, 8);
    } else {
      for (int at = 0; at < 8; ++at) nonce[4 + at] ^= sequence[at];
    }
    std::vector<unsigned char> sealed(content.size() + 16);
    int produced = 0;
    int finished = 0;
    check(EVP_EncryptInit_ex(context_.get(), nullptr, nullptr, nullptr, nonce) == 1 &&
          EVP_EncryptUpdate(context_.get(), nullptr, &produced, aad, static_cast<int>(aad_size)) ==
              1 &&
          EVP_EncryptUpdate(context_.get(), sealed.data(), &produced, content.data(),
                            static_cast<int>(content.size())) == 1 &&
          EVP_EncryptFinal_ex(context_.get(), sealed.data() + produced, &finished) == 1 &&
          EVP_CIPHER_CTX_ctrl(context_.get(), EVP_CTRL_AEAD_GET_TAG, 16,
                              sealed.data() + content.size()) == 1);
    ++sequence_;
    stream.insert(stream.end(), header, header + 5);
    if (explicit_nonce) stream.insert(stream.end(), sequence, sequence + 8);
    stream.insert(stream.end(), sealed.begin(), sealed.end());
  }

  // TLS 1.3 KeyUpdate (RFC 8446 4.6.3): the next records use the next secret's keys.
  void update_keys() {
    check(fastws::net::tls13_next_secret(hash_, keys_.secret) &&
          fastws::net::tls13_traffic_keys(hash_, keys_.secret, suite_.key_size, keys_) &&
          EVP_EncryptInit_ex(context_.get(), nullptr, nullptr, keys_.key.data(), nullptr) == 1);
    sequence_ = 0;
  }

 private:
  struct ContextFree {
    void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
  };

  static void put_u64(unsigned char* out, std::uint64_t value) {
    for (int at = 7; at >= 0; --at, value >>= 8) out[at] = static_cast<unsigned char>(value);
  }

  Suite suite_;
  const EVP_MD* hash_;
  TrafficKeys keys_;
  std::unique_ptr<EVP_CIPHER_CTX, ContextFree> context_;
  std::uint64_t sequence_ = 0;
};

// The application data a record carries, as the receiver must see it: TLS 1.3's real type is the
// last non-zero byte of the content, type and padding (RFC 8446 5.4).
void expect_application_data(const Suite& suite, unsigned char type,
                             const std::vector<unsigned char>& content,
                             std::vector<unsigned char>& expected) {
  if (suite.version == TlsRecordVersion::tls12) {
    if (type == application_data) expected.insert(expected.end(), content.begin(), content.end());
    return;
  }
  if (type != 0) {
    if (type == application_data) expected.insert(expected.end(), content.begin(), content.end());
    return;
  }
  std::size_t size = content.size();
  while (size > 0 && content[size - 1] == 0) --size;
  if (size > 0 && content[size - 1] == application_data) {
    expected.insert(expected.end(), content.begin(), content.begin() + (size - 1));
  }
}

class Harness {
 public:
  Harness(TlsRecordLayer& layer, int peer) : layer_(layer), peer_(peer) {}

  std::vector<unsigned char> stream;    // what the peer sends, delivered in order
  std::vector<unsigned char> expected;  // the application data sealed in it

  // Moves up to `limit` more stream bytes into the socket (as many as it takes).
  void deliver(std::size_t limit) {
    while (limit > 0 && delivered_ < stream.size()) {
      const std::size_t count = std::min(limit, stream.size() - delivered_);
      const ssize_t sent = ::send(peer_, stream.data() + delivered_, count, MSG_NOSIGNAL);
      if (sent <= 0) return;  // the socket is full (or the layer's side is gone)
      delivered_ += static_cast<std::size_t>(sent);
      limit -= static_cast<std::size_t>(sent);
    }
  }

  // Reads until the layer has nothing more (would_block, end or failure); with `rest`, until
  // the whole stream went in too (a full socket waits for the layer to read).
  void read_all(std::size_t buffer_size, bool rest) {
    for (int round = 0; round < 100000; ++round) {
      const IoStatus status = read_once(buffer_size);
      if (status == IoStatus::done) continue;
      if (!rest || status != IoStatus::would_block || delivered_ == stream.size()) return;
      const std::size_t before = delivered_;
      deliver(stream.size());
      if (delivered_ == before) return;
    }
    check(false);  // no progress
  }

  IoStatus read_once(std::size_t buffer_size) {
    std::vector<std::byte> buffer(buffer_size);
    const IoResult result = layer_.read(buffer);
    check(result.bytes <= buffer.size());
    check(result.status == IoStatus::done ? result.bytes > 0 : result.bytes == 0);
    check((result.status == IoStatus::failed) == result.error.has_value());
    check(!read_failed_ || result.status == IoStatus::failed);
    if (result.status == IoStatus::failed) read_failed_ = true;
    // The plaintext is the next part of the application data the peer sealed.
    check(read_ + result.bytes <= expected.size());
    check(result.bytes == 0 ||
          std::memcmp(buffer.data(), expected.data() + read_, result.bytes) == 0);
    read_ += result.bytes;
    return result.status;
  }

  // Writes `size` more bytes of an endless pattern, in up to three buffers. After a short write
  // the next one starts with the bytes not reported written and holds at least all of them, as
  // TlsStream's contract asks.
  void write(std::size_t size, unsigned split) {
    size = std::max(size, owed_);
    std::vector<unsigned char> bytes(size);
    for (std::size_t at = 0; at < size; ++at) {
      bytes[at] = static_cast<unsigned char>((written_ + at) * 7 + 1);
    }
    const std::size_t first = std::min<std::size_t>(size, (split & 7) * 2048);
    const std::size_t second = std::min<std::size_t>(size - first, ((split >> 3) & 7) * 2048);
    const iovec buffers[3] = {{bytes.data(), first},
                              {bytes.data() + first, second},
                              {bytes.data() + first + second, size - first - second}};
    const IoResult result = layer_.write(buffers);
    check(result.bytes <= size);
    check(result.status == IoStatus::done || result.bytes == 0);
    check(result.status != IoStatus::end_of_file);
    check((result.status == IoStatus::failed) == result.error.has_value());
    written_ += result.bytes;
    owed_ = result.status == IoStatus::failed ? 0 : size - result.bytes;
  }

  // Discards what the layer wrote (its alerts, KeyUpdate answers and application data).
  void drain() {
    unsigned char sink[65536];
    while (::recv(peer_, sink, sizeof sink, 0) > 0) {
    }
  }

 private:
  TlsRecordLayer& layer_;
  int peer_;
  std::size_t delivered_ = 0;
  std::size_t read_ = 0;
  bool read_failed_ = false;
  std::size_t written_ = 0;
  std::size_t owed_ = 0;
};

void run(const std::uint8_t* data, std::size_t size) {
  InputReader input(data, size);
  const std::uint8_t settings = input.byte();
  const Suite& suite = suites[settings % 6];
  const EVP_CIPHER* cipher = fastws::net::aead_cipher(suite.cipher_nid);
  // TLS 1.3's AES-256-GCM suite hashes with SHA-384, the others with SHA-256.
  const EVP_MD* hash = suite.cipher_nid == NID_aes_256_gcm ? EVP_sha384() : EVP_sha256();
  check(cipher != nullptr);

  SessionKeys keys;
  keys.version = suite.version;
  keys.cipher = cipher;
  keys.hash = hash;
  keys.read = fixed_keys(suite, hash, 0x11);
  keys.write = fixed_keys(suite, hash, 0x22);
  SealingPeer peer(suite, cipher, hash, keys.read);

  int fds[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  if (settings & 0x40) {
    const int small = 4096;
    ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  }
  {
    const std::unique_ptr<TlsRecordLayer> layer = TlsRecordLayer::create(keys, fds[0]);
    check(layer != nullptr);
    Harness harness(*layer, fds[1]);
    while (!input.empty()) {
      const std::uint8_t control = input.byte();
      const unsigned argument = control >> 2;
      const bool room = harness.stream.size() < max_stream;
      switch (control & 3) {
        case 0: {
          const std::vector<unsigned char> raw = input.bytes(argument + 1);
          if (room) harness.stream.insert(harness.stream.end(), raw.begin(), raw.end());
          break;
        }
        case 1: {
          const unsigned char type = input.byte();
          std::size_t length = static_cast<std::size_t>(input.byte() & 0x7F) << 8;
          length |= input.byte();
          std::vector<unsigned char> content = input.bytes(length);
          for (std::size_t at = content.size(); at < length; ++at) {
            content.push_back(static_cast<unsigned char>(at * 13 + 5));
          }
          if (!room) break;
          expect_application_data(suite, type, content, harness.expected);
          peer.seal(type, std::move(content), argument, harness.stream);
          break;
        }
        case 2:
          if (!room) break;
          if (suite.version == TlsRecordVersion::tls13) {
            peer.seal(handshake, {24, 0, 0, 1, static_cast<unsigned char>(argument & 3)}, 0,
                      harness.stream);
            peer.update_keys();
          } else {
            peer.seal(handshake, {1, 0, 0, 0}, 0, harness.stream);  // a bare ClientHello
          }
          break;
        default:
          switch (argument & 3) {
            case 0: {
              harness.deliver((input.byte() + 1u) * 4);
              const std::size_t buffer_size = input.byte() + 1u;
              harness.read_all(buffer_size, false);
              break;
            }
            case 1: {
              const std::size_t length = input.byte() * 128u;
              harness.write(length, argument >> 2);
              break;
            }
            case 2:
              harness.drain();
              break;
            default:
              harness.deliver(max_stream * 2);
              harness.read_all(16384, true);
              break;
          }
          break;
      }
    }
    harness.deliver(max_stream * 2);
    if (settings & 0x80) ::shutdown(fds[1], SHUT_WR);
    harness.read_all(4096, true);
    harness.drain();
    harness.write(100, 0);
    harness.drain();
    layer->close_notify();
    harness.drain();
  }
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run(data, size);
  return 0;
}
