// Prefetcher: a batch source run ahead in a thread of its own, as MXNet's PrefetcherIter runs its
// loader (dmlc::ThreadedIter with a queue of 16 batches).
#include <algorithm>
#include <utility>

#include "mxopt/data.h"

namespace mxopt::data {

// Buffers below this size come from malloc (cheap there); larger ones are recycled, each reused
// only for requests of at least half its capacity.
constexpr std::size_t kPooledBytes = std::size_t{64} << 10;

std::vector<unsigned char> BufferPool::take(std::size_t bytes) {
  if (bytes >= kPooledBytes) {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < free_.size(); ++i) {
      const std::size_t cap = free_[i].capacity();
      if (cap >= bytes && cap / 2 <= bytes) {
        std::vector<unsigned char> out = std::move(free_[i]);
        free_[i] = std::move(free_.back());
        free_.pop_back();
        out.resize(bytes);  // no fill: a pooled buffer keeps its full size
        return out;
      }
    }
  }
  return std::vector<unsigned char>(bytes);
}

void BufferPool::give(std::vector<unsigned char>&& buffer) {
  if (buffer.capacity() < kPooledBytes) return;
  buffer.resize(buffer.capacity());  // a shrunk buffer is filled once, here
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.size() < max_) free_.push_back(std::move(buffer));
}

Prefetcher::Prefetcher(std::unique_ptr<BatchSource> source, std::size_t capacity)
    : pool_(std::make_shared<BufferPool>(capacity + 16)),
      source_(std::move(source)),
      capacity_(std::max<std::size_t>(capacity, 1)) {
  source_->set_pool(pool_);
  thread_ = std::thread([this] { run(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  consumed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Prefetcher::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    consumed_.wait(lock, [this] {
      return stop_ || reset_ || (!end_ && !error_ && queue_.size() < capacity_);
    });
    if (stop_) return;
    if (reset_) {
      // The consumer waits while the source rewinds.
      error_ = nullptr;
      reset_error_ = nullptr;
      try {
        source_->before_first();
      } catch (...) {
        reset_error_ = std::current_exception();
        error_ = reset_error_;
      }
      queue_.clear();
      end_ = false;
      reset_ = false;
      produced_.notify_all();
      continue;
    }
    lock.unlock();
    Batch batch;
    bool ok = false;
    std::exception_ptr failure;
    try {
      ok = source_->next(&batch);
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    if (failure) {
      error_ = failure;
    } else if (ok) {
      queue_.push_back(std::move(batch));
    } else {
      end_ = true;
    }
    produced_.notify_all();
  }
}

bool Prefetcher::next(Batch* out) {
  std::unique_lock<std::mutex> lock(mu_);
  produced_.wait(lock, [this] { return !queue_.empty() || end_ || error_; });
  if (!queue_.empty()) {
    *out = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    consumed_.notify_all();
    return true;
  }
  if (error_) std::rethrow_exception(error_);  // stays set: every later call fails too
  return false;
}

void Prefetcher::reset() {
  std::unique_lock<std::mutex> lock(mu_);
  produced_.wait(lock, [this] { return queue_.size() >= capacity_ || end_ || error_; });
  reset_ = true;
  consumed_.notify_all();
  produced_.wait(lock, [this] { return !reset_; });
  if (reset_error_) std::rethrow_exception(reset_error_);
}

}  // namespace mxopt::data
