// A growable FIFO ring buffer. Capacity doubles when full (only while warming up);
// steady-state push/pop never allocate.
#pragma once

#include <bit>
#include <cstddef>
#include <utility>
#include <vector>

namespace hana::protocol {

template <class T>
class Ring {
 public:
  explicit Ring(std::size_t initial_capacity = 16) {
    items_.resize(std::bit_ceil(initial_capacity < 2 ? std::size_t{2} : initial_capacity));
  }
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return items_.size(); }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& operator[](std::size_t i) { return items_[(head_ + i) & (items_.size() - 1)]; }
  const T& operator[](std::size_t i) const { return items_[(head_ + i) & (items_.size() - 1)]; }
  void push_back(T v) {
    if (size_ == items_.size()) grow();
    items_[(head_ + size_) & (items_.size() - 1)] = std::move(v);
    ++size_;
  }
  void pop_front() {
    head_ = (head_ + 1) & (items_.size() - 1);
    --size_;
  }
  void clear() {
    head_ = 0;
    size_ = 0;
  }

 private:
  void grow() {
    std::vector<T> bigger(items_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    items_.swap(bigger);
    head_ = 0;
  }
  std::vector<T> items_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace hana::protocol
