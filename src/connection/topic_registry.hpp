// The topics of one event loop: who is subscribed to what, for publish() and for leaving every
// topic on close.
//
// Every operation costs the same however many members a topic has and however many topics a
// subscriber is in: a topic is found by hashing its name; a member is added at the end of the
// topic's list and removed by moving the last member into its slot. Each subscriber keeps its
// own index, Subscriptions, from a topic's address to its slot there, so finding the slot is a
// hash lookup too (a list scanned on every join made one subscriber's joins cost the square of
// its topic count). A topic's name is stored once, as the key of the loop's map; a
// subscriber's index holds addresses only.
//
// `Equal` compares keys (names, and topic addresses in an index); the tests count the
// comparisons through it to measure the work independently of the machine.
//
// A TopicBridge, when set, hears when a topic gets its first member and loses its last (scale-out
// subscribes a node to a topic in the broker only while the topic has members here).
//
// Threading: the loop thread only (LoopContext), so no lock.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fastws/topic_bridge.hpp"

namespace fastws::detail {

// Hashes std::string and std::string_view alike, so that a name is looked up without being
// copied into a std::string.
struct TopicNameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view name) const noexcept {
    return std::hash<std::string_view>{}(name);
  }
};

template <class Subscriber, class Equal = std::equal_to<>>
class TopicRegistry {
 public:
  struct Member;
  using Topics = std::unordered_map<std::string, std::vector<Member>, TopicNameHash, Equal>;
  // Elements of an unordered_map keep their address when it rehashes.
  using Topic = typename Topics::value_type;

  // What a subscriber owns: for each of its topics, its slot in that topic's members. It must
  // stay at one address while it has any.
  using Subscriptions = std::unordered_map<Topic*, std::size_t, std::hash<Topic*>, Equal>;

  struct Member {
    Subscriber* subscriber;
    Subscriptions* subscriptions;  // the member's own index, to fix its slot when it moves
  };

  // Adds `subscriber` (whose index is `mine`) to `name`. False when it was a member already.
  bool subscribe(Subscriber& subscriber, Subscriptions& mine, std::string_view name) {
    auto topic = topics_.find(name);
    const bool opened = topic == topics_.end();
    if (opened) {
      topic = topics_.emplace(std::string(name), std::vector<Member>()).first;
    } else if (mine.contains(&*topic)) {
      return false;
    }
    std::vector<Member>& members = topic->second;
    const auto entry = mine.emplace(&*topic, members.size()).first;
    try {
      members.push_back({&subscriber, &mine});
    } catch (...) {  // out of memory: leave no index entry without its member
      mine.erase(entry);
      if (members.empty()) topics_.erase(topic);
      throw;
    }
    if (opened && bridge_ != nullptr) bridge_->topic_opened(name);
    return true;
  }

  // True when the owner of `mine` is a member of `name`.
  bool contains(const Subscriptions& mine, std::string_view name) {
    const auto topic = topics_.find(name);
    return topic != topics_.end() && mine.contains(&*topic);
  }

  // Removes the owner of `mine` from `name`. False when it was not a member.
  bool unsubscribe(Subscriptions& mine, std::string_view name) {
    const auto topic = topics_.find(name);
    if (topic == topics_.end()) return false;
    const auto entry = mine.find(&*topic);
    if (entry == mine.end()) return false;
    const std::size_t slot = entry->second;
    mine.erase(entry);
    if (leave(*topic, slot)) close(topic);
    return true;
  }

  // Removes the owner of `mine` from every topic it is in.
  void unsubscribe_all(Subscriptions& mine) {
    for (const auto& [topic, slot] : mine) {
      if (leave(*topic, slot)) close(topics_.find(topic->first));
    }
    mine.clear();
  }

  // The members of `name`, in no particular order; null when it has none.
  const std::vector<Member>* members(std::string_view name) const {
    const auto topic = topics_.find(name);
    return topic == topics_.end() ? nullptr : &topic->second;
  }

  std::size_t topic_count() const noexcept { return topics_.size(); }

  // Where to report topics opening and closing from now on (null: nowhere).
  void report_to(TopicBridge* bridge) noexcept { bridge_ = bridge; }

 private:
  // Takes the member at `slot` out of `topic`; the last member moves into the gap and its index
  // learns its new slot. True when no member is left: the caller forgets the topic.
  static bool leave(Topic& topic, std::size_t slot) {
    std::vector<Member>& members = topic.second;
    if (slot + 1 < members.size()) {
      const Member moved = members.back();
      members[slot] = moved;
      moved.subscriptions->at(&topic) = slot;
    }
    members.pop_back();
    return members.empty();
  }

  // Forgets a topic that lost its last member.
  void close(typename Topics::iterator topic) {
    if (bridge_ != nullptr) bridge_->topic_closed(topic->first);
    topics_.erase(topic);
  }

  Topics topics_;
  TopicBridge* bridge_ = nullptr;
};

}  // namespace fastws::detail
