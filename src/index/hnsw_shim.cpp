/* The thin C++ layer over hnswlib: one class (the distance space) and extern "C" functions
 * that each catch everything hnswlib may throw. Searches do not go through hnswlib's
 * searchKnn, which counts hops in shared atomics on every query (contended across threads)
 * and reads the index-wide ef_; they run the same descent and base-layer search with ef
 * passed per call. */
#include "index/hnsw_shim.h"

/* hnswlib's SSE code is off: its distances are replaced by semb's kernels anyway, and its
 * software prefetches read one link past the end of an upper-level list (a heap over-read
 * AddressSanitizer reports during parallel insertion). */
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstring>
#include <new>

extern "C" {
#include "core/error.h"
}

namespace {

/* hnswlib's SpaceInterface with semb's run-time dispatched distance kernels. */
class kernel_space : public hnswlib::SpaceInterface<float> {
public:
    kernel_space(size_t dim, hnsw_distance_fn distance) : dim_(dim), distance_(distance) {}
    size_t get_data_size() override { return dim_ * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return distance_; }
    void *get_dist_func_param() override { return &dim_; }

private:
    size_t dim_;
    hnsw_distance_fn distance_;
};

typedef hnswlib::HierarchicalNSW<float> hnsw_t;

semb_status report(semb_error *err, const char *what)
{
    try {
        throw;
    } catch (const std::bad_alloc &) {
        return semb_fail(err, SEMB_ERR_NOMEM, "hnsw %s: out of memory", what);
    } catch (const std::exception &e) {
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw %s: %s", what, e.what());
    } catch (...) {
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw %s: unknown C++ exception", what);
    }
}

} // namespace

struct hnsw_graph {
    hnsw_graph(int dim, hnsw_distance_fn distance, size_t capacity, size_t m, size_t ef_c,
               uint64_t seed)
        : space((size_t)dim, distance), hnsw(&space, capacity, m, ef_c, (size_t)seed)
    {
    }
    kernel_space space; /* before hnsw: constructed first, destroyed last */
    hnsw_t hnsw;
};

extern "C" semb_status hnsw_graph_create(int dim, hnsw_distance_fn distance, size_t capacity,
                                         size_t m, size_t ef_construction, uint64_t seed,
                                         hnsw_graph **out, semb_error *err)
{
    *out = nullptr;
    try {
        *out = new hnsw_graph(dim, distance, capacity, m, ef_construction, seed);
        return SEMB_OK;
    } catch (...) {
        return report(err, "create");
    }
}

extern "C" void hnsw_graph_free(hnsw_graph *graph)
{
    delete graph;
}

extern "C" semb_status hnsw_graph_add(hnsw_graph *graph, const float *vector, uint32_t label,
                                      semb_error *err)
{
    try {
        graph->hnsw.addPoint(vector, (hnswlib::labeltype)label);
        return SEMB_OK;
    } catch (...) {
        return report(err, "add");
    }
}

/* Greedy descent through the upper levels to the closest element on level 1, as searchKnn. */
static hnswlib::tableint descend(const hnsw_t &h, const float *query)
{
    hnswlib::tableint current = h.enterpoint_node_;
    float best = h.fstdistfunc_(query, h.getDataByInternalId(current), h.dist_func_param_);
    for (int level = h.maxlevel_; level > 0; level--) {
        for (bool changed = true; changed;) {
            changed = false;
            hnswlib::linklistsizeint *list = h.get_linklist(current, level);
            int size = h.getListCount(list);
            const hnswlib::tableint *neighbours = (const hnswlib::tableint *)(list + 1);
            for (int i = 0; i < size; i++) {
                float d = h.fstdistfunc_(query, h.getDataByInternalId(neighbours[i]),
                                         h.dist_func_param_);
                if (d < best) {
                    best = d;
                    current = neighbours[i];
                    changed = true;
                }
            }
        }
    }
    return current;
}

extern "C" semb_status hnsw_graph_search(const hnsw_graph *graph, const float *query, size_t k,
                                         size_t ef, uint32_t *ids, float *distances,
                                         size_t *found, semb_error *err)
{
    *found = 0;
    const hnsw_t &h = graph->hnsw;
    if (h.cur_element_count == 0 || k == 0)
        return SEMB_OK;
    try {
        auto top = h.searchBaseLayerST<false, false>(descend(h, query), query, std::max(ef, k));
        while (top.size() > k)
            top.pop();
        /* the queue pops farthest first */
        for (size_t i = top.size(); i > 0; i--) {
            ids[i - 1] = top.top().second;
            distances[i - 1] = top.top().first;
            top.pop();
            (*found)++;
        }
        return SEMB_OK;
    } catch (...) {
        return report(err, "search");
    }
}

extern "C" size_t hnsw_graph_count(const hnsw_graph *graph)
{
    return graph->hnsw.cur_element_count;
}

extern "C" size_t hnsw_graph_capacity(const hnsw_graph *graph)
{
    return graph->hnsw.max_elements_;
}

extern "C" size_t hnsw_graph_m(const hnsw_graph *graph)
{
    return graph->hnsw.M_;
}

extern "C" size_t hnsw_graph_ef_construction(const hnsw_graph *graph)
{
    return graph->hnsw.ef_construction_;
}

extern "C" int hnsw_graph_max_level(const hnsw_graph *graph)
{
    return graph->hnsw.maxlevel_;
}

extern "C" uint32_t hnsw_graph_entry_point(const hnsw_graph *graph)
{
    return graph->hnsw.enterpoint_node_;
}

extern "C" int hnsw_graph_level(const hnsw_graph *graph, uint32_t id)
{
    return graph->hnsw.element_levels_[id];
}

extern "C" uint32_t hnsw_graph_label(const hnsw_graph *graph, uint32_t id)
{
    return (uint32_t)graph->hnsw.getExternalLabel(id);
}

extern "C" const float *hnsw_graph_vector(const hnsw_graph *graph, uint32_t id)
{
    return (const float *)graph->hnsw.getDataByInternalId(id);
}

extern "C" const uint32_t *hnsw_graph_links(const hnsw_graph *graph, uint32_t id, int level,
                                            uint32_t *count)
{
    hnswlib::linklistsizeint *list = graph->hnsw.get_linklist_at_level(id, level);
    *count = graph->hnsw.getListCount(list);
    return list + 1;
}

extern "C" semb_status hnsw_graph_append(hnsw_graph *graph, uint32_t label, int level,
                                         const float *vector, semb_error *err)
{
    hnsw_t &h = graph->hnsw;
    hnswlib::tableint id = (hnswlib::tableint)h.cur_element_count;
    if (id >= h.max_elements_)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw load: more elements than capacity");
    try {
        std::memset(h.data_level0_memory_ + id * h.size_data_per_element_ + h.offsetLevel0_, 0,
                    h.size_data_per_element_);
        h.setExternalLabel(id, label);
        std::memcpy(h.getDataByInternalId(id), vector, h.data_size_);
        h.linkLists_[id] = nullptr;
        h.label_lookup_[label] = id; /* may throw: before anything needs freeing */
        if (level > 0) {
            /* the size and zero fill hnswlib's addPoint gives upper-level lists */
            size_t bytes = h.size_links_per_element_ * (size_t)level + 1;
            h.linkLists_[id] = (char *)std::malloc(bytes);
            if (!h.linkLists_[id])
                return semb_fail(err, SEMB_ERR_NOMEM, "hnsw load: out of memory");
            std::memset(h.linkLists_[id], 0, bytes);
        }
        h.element_levels_[id] = level;
        /* counted only now, so that the destructor frees exactly the lists made */
        h.cur_element_count = (size_t)id + 1;
        return SEMB_OK;
    } catch (...) {
        return report(err, "load");
    }
}

extern "C" void hnsw_graph_set_links(hnsw_graph *graph, uint32_t id, int level,
                                     const uint32_t *ids, uint32_t count)
{
    hnswlib::linklistsizeint *list = graph->hnsw.get_linklist_at_level(id, level);
    graph->hnsw.setListCount(list, (unsigned short)count);
    std::memcpy(list + 1, ids, count * sizeof *ids);
}

extern "C" void hnsw_graph_set_entry_point(hnsw_graph *graph, uint32_t id, int max_level)
{
    graph->hnsw.enterpoint_node_ = id;
    graph->hnsw.maxlevel_ = max_level;
}
