// The topics of one event loop: who is subscribed to what, for publish() and for leaving every
// topic on close.
//
// Every operation costs the same however many members a topic has and however many topics
// exist: a topic is found by hash; a member is added at the end of the topic's list and removed
// by moving the last member into its slot. Each subscriber keeps its own short list of
// Subscriptions (topic and slot), so finding its slot never scans the topic's members; only the
// subscriber's own topics are scanned, and a connection is in a few.
//
// Threading: the loop thread only (LoopContext), so no lock.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fastws::detail {

template <class Subscriber>
class TopicRegistry {
 public:
  struct Member;
  using Topics = std::unordered_map<std::string, std::vector<Member>>;
  // Elements of an unordered_map keep their address when it rehashes.
  using Topic = typename Topics::value_type;

  // One subscriber's place in one topic.
  struct Subscription {
    Topic* topic;
    std::size_t slot;  // in topic->second
  };
  // What a subscriber owns: its subscriptions. It must stay at one address while it has any.
  using Subscriptions = std::vector<Subscription>;

  struct Member {
    Subscriber* subscriber;
    Subscriptions* subscriptions;  // the member's own list, to fix its slot when it moves
  };

  // Adds `subscriber` (whose list is `mine`) to `name`; nothing when it is there already.
  void subscribe(Subscriber& subscriber, Subscriptions& mine, std::string_view name) {
    if (find(mine, name) != mine.end()) return;
    Topic& topic = *topics_.try_emplace(std::string(name)).first;
    topic.second.push_back({&subscriber, &mine});
    mine.push_back({&topic, topic.second.size() - 1});
  }

  // Removes the owner of `mine` from `name`; nothing when it is not there.
  void unsubscribe(Subscriptions& mine, std::string_view name) {
    const auto found = find(mine, name);
    if (found == mine.end()) return;
    leave(*found);
    *found = mine.back();
    mine.pop_back();
  }

  // Removes the owner of `mine` from every topic it is in.
  void unsubscribe_all(Subscriptions& mine) {
    for (const Subscription& subscription : mine) leave(subscription);
    mine.clear();
  }

  // The members of `name`, in no particular order; null when it has none.
  const std::vector<Member>* members(std::string_view name) const {
    const auto found = topics_.find(std::string(name));
    return found == topics_.end() ? nullptr : &found->second;
  }

  std::size_t topic_count() const noexcept { return topics_.size(); }

 private:
  static typename Subscriptions::iterator find(Subscriptions& mine, std::string_view name) {
    auto at = mine.begin();
    while (at != mine.end() && at->topic->first != name) ++at;
    return at;
  }

  // Takes the subscription's member out of its topic; the last member moves into the gap. A
  // topic without members is forgotten.
  void leave(const Subscription& subscription) {
    Topic& topic = *subscription.topic;
    std::vector<Member>& members = topic.second;
    const Member moved = members.back();
    members[subscription.slot] = moved;
    members.pop_back();
    if (subscription.slot < members.size()) {
      for (Subscription& theirs : *moved.subscriptions) {
        if (theirs.topic == &topic) theirs.slot = subscription.slot;
      }
    }
    if (members.empty()) topics_.erase(topics_.find(topic.first));
  }

  Topics topics_;
};

}  // namespace fastws::detail
