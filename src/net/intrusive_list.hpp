// The circular doubly linked list behind timers and deferred flushes.
//
// The links live inside the objects (a connection derives from a TimerEntry), so
// putting an object on a list or taking it off is a few pointer stores: no allocation, no search,
// and an object can unlink itself in its destructor without knowing which list holds it.
#pragma once

namespace fastws::net {

// The links of one node; both null while the node is on no list.
struct ListLink {
  ListLink* prev = nullptr;
  ListLink* next = nullptr;

  bool linked() const noexcept { return next != nullptr; }

  void unlink() noexcept {
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }
};

// A base that puts its derived class on one kind of list, e.g. TimerNode : ListNode<TimerNode>.
// The link is a member, not a base, so a class on several lists (timers, flushes, its owner's
// own lists) has no colliding or ambiguous names; distinct tags keep the bases distinct. The
// link is the first member of a standard-layout struct, so a list entry leads back to its
// object: reinterpret_cast to the (pointer-interconvertible) ListNode, then static_cast down.
template <typename Tag>
struct ListNode {
  ListLink link;

  static ListNode& from_link(ListLink& entry) noexcept {
    return *reinterpret_cast<ListNode*>(&entry);
  }
};

// A list entry that owns no object but stands for one (a watch's record of a connection): it
// takes itself off its list when destroyed, and cannot be copied, since the list points at it.
template <typename Tag>
struct SelfUnlinkingNode : ListNode<Tag> {
  SelfUnlinkingNode() noexcept = default;
  SelfUnlinkingNode(const SelfUnlinkingNode&) = delete;
  SelfUnlinkingNode& operator=(const SelfUnlinkingNode&) = delete;
  ~SelfUnlinkingNode() {
    if (this->link.linked()) this->link.unlink();
  }
};

// The head of a list: a link pointing at itself when the list is empty. Not copyable or
// movable, because the nodes point at it.
class ListHead {
 public:
  ListHead() noexcept { self_.prev = self_.next = &self_; }
  ListHead(const ListHead&) = delete;
  ListHead& operator=(const ListHead&) = delete;

  bool empty() const noexcept { return self_.next == &self_; }
  // Precondition: not empty.
  ListLink& front() noexcept { return *self_.next; }
  // The head's own link: a walk along `next` from front() ends when it gets here.
  const ListLink* end() const noexcept { return &self_; }

  void push_back(ListLink& node) noexcept {
    node.prev = self_.prev;
    node.next = &self_;
    self_.prev->next = &node;
    self_.prev = &node;
  }

  // Moves every node of `other` to the end of this list; `other` becomes empty.
  void splice(ListHead& other) noexcept {
    if (other.empty()) return;
    ListLink& first = *other.self_.next;
    ListLink& last = *other.self_.prev;
    first.prev = self_.prev;
    last.next = &self_;
    self_.prev->next = &first;
    self_.prev = &last;
    other.self_.prev = other.self_.next = &other.self_;
  }

 private:
  ListLink self_;
};

}  // namespace fastws::net
