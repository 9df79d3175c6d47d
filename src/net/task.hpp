// A move-only callable for EventLoop::post().
//
// std::function would do, but it must be copyable (so a task cannot own a UniqueFd) and
// libstdc++ heap-allocates anything that is not trivially copyable, e.g. a lambda holding a
// shared_ptr. Cross-thread sends post exactly such lambdas, so Task keeps captures of up to
// 48 bytes inline: posting them costs no allocation. Larger callables go to the heap.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace fastws::net {

class Task {
 public:
  static constexpr std::size_t inline_size = 48;

  Task() noexcept = default;

  // Implicit so that `loop.post([&] { ... })` reads naturally.
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, Task> &&
           std::is_invocable_r_v<void, std::decay_t<F>&>)
      Task(F&& callable) {  // NOLINT(google-explicit-constructor)
    using Stored = std::decay_t<F>;
    if constexpr (stored_inline<Stored>) {
      ::new (static_cast<void*>(storage_)) Stored(std::forward<F>(callable));
      ops_ = &inline_ops<Stored>;
    } else {
      ::new (static_cast<void*>(storage_)) Stored*(new Stored(std::forward<F>(callable)));
      ops_ = &heap_ops<Stored>;
    }
  }

  Task(Task&& other) noexcept { take(other); }
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  // Precondition: not empty.
  void operator()() { ops_->invoke(storage_); }

  // True when a callable of type F is stored without allocating.
  template <typename F>
  static constexpr bool stored_inline =
      sizeof(F) <= inline_size &&
      alignof(F) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<F>;

 private:
  struct Ops {
    void (*invoke)(void* storage);
    // Move-constructs into `to` and destroys the source, so the moved-from Task is empty.
    void (*relocate)(void* from, void* to) noexcept;
    void (*destroy)(void* storage) noexcept;
  };

  template <typename F>
  static F& inline_object(void* storage) noexcept {
    return *std::launder(static_cast<F*>(storage));
  }
  template <typename F>
  static F*& heap_pointer(void* storage) noexcept {
    return *std::launder(static_cast<F**>(storage));
  }

  template <typename F>
  static constexpr Ops inline_ops = {
      [](void* s) { inline_object<F>(s)(); },
      [](void* from, void* to) noexcept {
        F& source = inline_object<F>(from);
        ::new (to) F(std::move(source));
        source.~F();
      },
      [](void* s) noexcept { inline_object<F>(s).~F(); },
  };

  template <typename F>
  static constexpr Ops heap_ops = {
      [](void* s) { (*heap_pointer<F>(s))(); },
      [](void* from, void* to) noexcept { ::new (to) F*(heap_pointer<F>(from)); },
      [](void* s) noexcept { delete heap_pointer<F>(s); },
  };

  void take(Task& other) noexcept {
    if (other.ops_ == nullptr) return;
    other.ops_->relocate(other.storage_, storage_);
    ops_ = std::exchange(other.ops_, nullptr);
  }

  void reset() noexcept {
    if (ops_ != nullptr) std::exchange(ops_, nullptr)->destroy(storage_);
  }

  alignas(std::max_align_t) unsigned char storage_[inline_size];
  const Ops* ops_ = nullptr;
};

}  // namespace fastws::net
