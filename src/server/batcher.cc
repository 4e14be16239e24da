#include "server/batcher.h"

#include <condition_variable>
#include <cstring>
#include <deque>

namespace tiffin::server {

namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  const std::vector<NamedTensor>* feeds;
  int64_t rows;
  bool done = false;
  Result<std::vector<Tensor>> result = Internal("not run");
  Clock::time_point start;
};

// Rows [begin, begin + rows) of `t` as a new tensor.
Tensor Rows(const Tensor& t, int64_t begin, int64_t rows) {
  Shape shape = t.shape();
  shape[0] = rows;
  Tensor out(t.dtype(), shape);
  const int64_t per = rows ? out.size() / rows : 0;
  if (t.dtype() == DType::kString) {
    for (int64_t i = 0; i < out.size(); ++i)
      out.data<std::string>()[i] = t.data<std::string>()[begin * per + i];
  } else if (out.nbytes()) {
    const size_t es = DTypeSize(t.dtype());
    std::memcpy(out.raw_data(), static_cast<const char*>(t.raw_data()) + begin * per * es,
                out.nbytes());
  }
  return out;
}

// Joins the batch's inputs along dim 0, or returns false when they differ
// in anything but dim 0.
bool Concat(const std::vector<Pending*>& batch, int64_t total, std::vector<NamedTensor>* out) {
  const auto& first = *batch[0]->feeds;
  for (const Pending* p : batch) {
    const auto& f = *p->feeds;
    if (f.size() != first.size()) return false;
    for (size_t i = 0; i < f.size(); ++i) {
      const Tensor& a = f[i].tensor;
      const Tensor& b = first[i].tensor;
      if (f[i].name != first[i].name || a.dtype() != b.dtype() || a.rank() != b.rank() ||
          a.rank() == 0 || a.dim(0) != p->rows)
        return false;
      for (int64_t d = 1; d < a.rank(); ++d)
        if (a.dim(d) != b.dim(d)) return false;
    }
  }
  for (size_t i = 0; i < first.size(); ++i) {
    Shape shape = first[i].tensor.shape();
    shape[0] = total;
    Tensor t(first[i].tensor.dtype(), shape);
    int64_t at = 0;
    for (const Pending* p : batch) {
      const Tensor& src = (*p->feeds)[i].tensor;
      if (t.dtype() == DType::kString) {
        for (int64_t k = 0; k < src.size(); ++k)
          t.data<std::string>()[at + k] = src.data<std::string>()[k];
      } else if (src.nbytes()) {
        std::memcpy(static_cast<char*>(t.raw_data()) + at * DTypeSize(t.dtype()), src.raw_data(),
                    src.nbytes());
      }
      at += src.size();
    }
    out->push_back({first[i].name, std::move(t)});
  }
  return true;
}

}  // namespace

struct Batcher::Queue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending*> q;
  bool leader = false;
};

Batcher::Batcher() = default;
Batcher::~Batcher() = default;

std::shared_ptr<Batcher::Queue> Batcher::QueueFor(const ServedVersion* sv) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& q = queues_[sv];
  if (!q) q = std::make_shared<Queue>();
  return q;
}

Result<std::vector<Tensor>> Batcher::Run(const ServedVersion& sv,
                                         const std::vector<NamedTensor>& feeds,
                                         Clock::time_point* compute_start) {
  int64_t rows = -1;
  for (const auto& f : feeds) {
    if (f.tensor.rank() == 0) {
      rows = -1;
      break;
    }
    if (rows < 0) rows = f.tensor.dim(0);
  }
  VersionStats& st = *sv.stats;
  const int max_batch_size = sv.batching.max_batch_size;
  const int max_queue_delay_us = sv.batching.max_queue_delay_us;
  if (rows <= 0 || rows >= max_batch_size) {
    st.exec_count.fetch_add(1, std::memory_order_relaxed);
    *compute_start = Clock::now();
    return sv.model->Run(feeds);
  }
  auto qp = QueueFor(&sv);
  Queue& q = *qp;
  Pending me{&feeds, rows};
  std::unique_lock<std::mutex> lk(q.mu);
  q.q.push_back(&me);
  q.cv.notify_all();
  while (!me.done) {
    if (q.leader) {
      q.cv.wait(lk);
      continue;
    }
    q.leader = true;
    const auto deadline = Clock::now() + std::chrono::microseconds(max_queue_delay_us);
    auto queued = [&] {
      int64_t n = 0;
      for (const Pending* p : q.q) n += p->rows;
      return n;
    };
    while (queued() < max_batch_size) {
      if (q.cv.wait_until(lk, deadline) == std::cv_status::timeout) break;
    }
    std::vector<Pending*> batch;
    int64_t total = 0;
    while (!q.q.empty() && (batch.empty() || total + q.q.front()->rows <= max_batch_size)) {
      total += q.q.front()->rows;
      batch.push_back(q.q.front());
      q.q.pop_front();
    }
    lk.unlock();
    std::vector<Result<std::vector<Tensor>>> results;
    std::vector<Clock::time_point> starts;
    std::vector<NamedTensor> joined;
    bool batched = false;
    if (batch.size() > 1 && Concat(batch, total, &joined)) {
      auto start = Clock::now();
      auto out = sv.model->Run(joined);
      st.exec_count.fetch_add(1, std::memory_order_relaxed);
      bool split = out.ok();
      if (split)
        for (const Tensor& t : *out) split &= t.rank() > 0 && t.dim(0) == total;
      if (split) {
        batched = true;
        int64_t at = 0;
        for (const Pending* p : batch) {
          std::vector<Tensor> mine;
          for (const Tensor& t : *out) mine.push_back(Rows(t, at, p->rows));
          at += p->rows;
          results.push_back(std::move(mine));
          starts.push_back(start);
        }
        st.batched_requests.fetch_add(batch.size(), std::memory_order_relaxed);
      }
    }
    if (!batched) {
      for (const Pending* p : batch) {
        starts.push_back(Clock::now());
        results.push_back(sv.model->Run(*p->feeds));
        st.exec_count.fetch_add(1, std::memory_order_relaxed);
      }
    }
    lk.lock();
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i]->result = std::move(results[i]);
      batch[i]->start = starts[i];
      batch[i]->done = true;
    }
    q.leader = false;
    q.cv.notify_all();
  }
  *compute_start = me.start;
  return std::move(me.result);
}

}  // namespace tiffin::server
