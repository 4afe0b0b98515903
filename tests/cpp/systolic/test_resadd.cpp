// resadd in all modes against the naive reference: lengths around DIM multiples, extreme and tiny ratios, ReLU,
// in-place aliasing, thread counts, counters; plus ThreadPool behaviour (exceptions, nesting, reuse).
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "naive_ref.h"
#include "systolic/resadd.h"
#include "systolic/thread_pool.h"
#include "test_util.h"

using namespace rcnn::systolic;

int main() {
  tu::Rng r(5);
  ThreadPool pool(3);
  const auto cfgs = tu::configs();
  const int64_t lengths[] = {0, 1, 3, 4, 15, 16, 17, 31, 33, 255, 256, 257, 2029, 8192, 8193, 70001};
  int case_no = 0;
  for (int64_t n : lengths)
    for (int rep = 0; rep < 3; ++rep, ++case_no) {
      std::vector<int8_t> A(n), B(n);
      r.fill(A);
      r.fill(B);
      const float ratios[] = {1.0f, 0.5f, 2.0f, 1e-6f, 300.0f, 0.3333f, 1.7f};
      const float ar = ratios[r.range(0, 6)], br = ratios[r.range(0, 6)];
      const bool relu = r.coin(50);
      std::vector<int8_t> expect(n);
      for (int64_t i = 0; i < n; ++i) expect[i] = ref::resadd(A[i], ar, B[i], br, relu);
      for (size_t ci = 0; ci < cfgs.size(); ++ci)
        for (Mode mode : tu::modes())
          for (int threads : {1, 3}) {
            const std::string ctx = "n=" + std::to_string(n) + " dim=" + std::to_string(cfgs[ci].dim) + " " +
                                    tu::mode_str(mode) + " t" + std::to_string(threads);
            ResaddArgs a;
            a.n = n;
            a.a_ratio = ar;
            a.b_ratio = br;
            a.relu = relu;
            std::vector<int8_t> C(n, int8_t{5}), A2 = A;
            a.A = A.data();
            a.B = B.data();
            a.C = C.data();
            if (rep == 2) {  // in place: C aliases A
              a.A = A2.data();
              a.C = A2.data();
            }
            ExecOptions opt;
            opt.pool = threads == 3 ? &pool : nullptr;
            const Counters c = resadd(cfgs[ci], mode, a, opt);
            CHECK_MSG((rep == 2 ? A2 : C) == expect, ctx);
            CHECK_EQ_CTX(c.calls, 1u, ctx);
            CHECK_EQ_CTX(c.macs, 0u, ctx);
            if (mode == Mode::CPU || n == 0) {
              CHECK_EQ_CTX(c.cycles, 0u, ctx);
            } else {
              CHECK_EQ_CTX(c.mvout_bytes, static_cast<uint64_t>(n), ctx);
              CHECK_EQ_CTX(c.mvin_acc_bytes, static_cast<uint64_t>(2 * n), ctx);
              CHECK_EQ_CTX(c.computes(), 0u, ctx);
              CHECK_EQ_CTX(c.cycles, static_cast<uint64_t>((3 * n + cfgs[ci].dma_bytes_per_cycle - 1) /
                                                           cfgs[ci].dma_bytes_per_cycle),
                           ctx);
              const int64_t D = cfgs[ci].dim, cols = n / D;
              const int64_t w = cols > 0 ? resadd_tile_cols(cfgs[ci], mode, D, cols) : 1;
              const int64_t tiles = (cols > 0 ? (cols + w - 1) / w : 0) + (n % D ? 1 : 0);
              CHECK_EQ_CTX(c.tiles, static_cast<uint64_t>(tiles), ctx);
            }
          }
    }
  {
    ResaddArgs a;
    a.n = 4;
    CHECK_THROWS(resadd(AcceleratorConfig{}, Mode::WS, a), Error);  // null pointers
    std::vector<int8_t> v(4);
    a.A = a.B = a.C = v.data();
    a.a_ratio = NAN;
    CHECK_THROWS(resadd(AcceleratorConfig{}, Mode::CPU, a), Error);
    a.a_ratio = 1.0f;
    a.n = -1;
    CHECK_THROWS(resadd(AcceleratorConfig{}, Mode::CPU, a), Error);
  }

  // ThreadPool: every task once, exceptions propagate and the pool stays usable, nested calls run inline.
  {
    for (int round = 0; round < 50; ++round) {
      std::vector<std::atomic<int>> hits(257);
      for (auto& h : hits) h = 0;
      pool.parallel_for(hits.size(), [&](size_t i, unsigned w) {
        CHECK(w < pool.size());
        hits[i]++;
      });
      bool all_once = true;
      for (auto& h : hits) all_once = all_once && h == 1;
      CHECK(all_once);
    }
    CHECK_THROWS(pool.parallel_for(100,
                                   [](size_t i, unsigned) {
                                     if (i == 37) throw std::runtime_error("boom");
                                   }),
                 std::runtime_error);
    std::atomic<int> count{0};
    pool.parallel_for(6, [&](size_t, unsigned outer) {
      pool.parallel_for(5, [&](size_t, unsigned inner) {
        CHECK_EQ(inner, outer);  // nested: inline on the same worker
        count++;
      });
    });
    CHECK_EQ(count.load(), 30);
    ThreadPool one(1), zero(0);
    CHECK_EQ(one.size(), 1u);
    CHECK_EQ(zero.size(), 1u);
    int seq = 0;
    one.parallel_for(3, [&](size_t i, unsigned w) {
      CHECK_EQ(static_cast<int>(i), seq++);
      CHECK_EQ(w, 0u);
    });
  }
  // Counters aggregation.
  {
    CounterTotals totals;
    Counters c;
    c.calls = 1;
    c.macs = 10;
    pool.parallel_for(100, [&](size_t, unsigned) { totals.add(c); });
    CHECK_EQ(totals.snapshot().macs, 1000u);
    CHECK_EQ(totals.snapshot().calls, 100u);
    totals.reset();
    CHECK(totals.snapshot() == Counters{});
    CHECK((c + c).macs == 20u);
    CHECK(!c.to_string().empty());
  }
  return check::finish("systolic_resadd");
}
