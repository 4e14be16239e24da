// Dynamic batching: requests for one model version that arrive close together
// run as one execution, with the version's own settings (ServedVersion::
// batching: the flags, or its model's config.pbtxt). The first waiting request
// leads: it waits up to `max_queue_delay_us` for more rows (or until
// `max_batch_size` rows are
// queued), concatenates the queued requests' inputs along dim 0 in arrival
// order, runs the model once and hands each request its own rows. Requests
// whose inputs cannot be joined (different trailing dims or dtypes, scalars)
// or whose outputs do not have one row per input row run one by one, so a
// batch never changes a result.
//
// Thread safety: Run is called from many worker threads at once.
#ifndef TIFFIN_SERVER_BATCHER_H_
#define TIFFIN_SERVER_BATCHER_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "server/repository.h"

namespace tiffin::server {

class Batcher {
 public:
  Batcher();
  ~Batcher();

  // Runs `feeds` on `sv`, possibly within a batch of up to
  // sv.batching.max_batch_size rows; `*compute_start` is set to when the
  // execution that served it began.
  Result<std::vector<Tensor>> Run(const ServedVersion& sv, const std::vector<NamedTensor>& feeds,
                                  std::chrono::steady_clock::time_point* compute_start);

  struct Queue;

 private:
  std::shared_ptr<Queue> QueueFor(const ServedVersion* sv);
  std::mutex mu_;
  std::map<const ServedVersion*, std::shared_ptr<Queue>> queues_;
};

}  // namespace tiffin::server

#endif  // TIFFIN_SERVER_BATCHER_H_
