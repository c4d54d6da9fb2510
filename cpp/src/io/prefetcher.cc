// Prefetcher: a batch source run ahead in a thread of its own, as MXNet's PrefetcherIter runs its
// loader (dmlc::ThreadedIter with a queue of 16 batches).
#include <algorithm>
#include <utility>

#include "mxopt/data.h"

namespace mxopt::data {

Prefetcher::Prefetcher(std::unique_ptr<BatchSource> source, std::size_t capacity)
    : source_(std::move(source)), capacity_(std::max<std::size_t>(capacity, 1)) {
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
