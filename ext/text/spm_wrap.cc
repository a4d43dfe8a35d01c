/*
** spm_wrap — see spm_wrap.h. Every entry point is a try/catch(...) so a C++
** exception can never unwind into C (which would terminate the host).
*/
/* clap_error.h is plain C without linkage guards. */
extern "C" {
#include "clap_error.h"
#include "fileio.h"
}
#include <unistd.h>
#include "spm_wrap.h"

#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct spm_model {
  sentencepiece::SentencePieceProcessor sp;
};

/* Takes m: hands it to *out on success, deletes it otherwise. */
static clap_status load_status(std::unique_ptr<spm_model> m, const sentencepiece::util::Status &st,
                               const char *label, spm_model **out, clap_error *err) {
  if (st.ok()) {
    *out = m.release();
    return CLAP_OK;
  }
  clap_status code = st.code() == sentencepiece::util::StatusCode::kNotFound ? CLAP_ERR_IO
                                                                               : CLAP_ERR_FORMAT;
  return clap_error_set(err, code, "%.200s: not a SentencePiece model: %.200s", label,
                        st.ToString().c_str());
}

extern "C" clap_status spm_load_file(const char *path, spm_model **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "spm_load_file: out is NULL");
  *out = nullptr;
  if (!path) return clap_error_set(err, CLAP_ERR_ARG, "spm_load_file: path is NULL");
  /* SentencePiece opens the path itself: refuse a FIFO or a device first. */
  int fd;
  clap_status rc = fileio_open_regular(path, &fd, nullptr, err);
  if (rc == CLAP_ERR_NOTFOUND) rc = err ? (err->code = CLAP_ERR_IO) : CLAP_ERR_IO;
  if (rc) return rc;
  close(fd);
  try {
    auto m = std::make_unique<spm_model>(); /* freed if Load throws */
    auto st = m->sp.Load(path);
    return load_status(std::move(m), st, path, out, err);
  } catch (const std::bad_alloc &) {
    return clap_error_set(err, CLAP_ERR_NOMEM, "%.200s: out of memory loading the model", path);
  } catch (const std::exception &e) {
    return clap_error_set(err, CLAP_ERR_FORMAT, "%.200s: %.200s", path, e.what());
  } catch (...) {
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%.200s: unknown error loading the model", path);
  }
}

extern "C" clap_status spm_load_bytes(const void *data, size_t n, const char *label,
                                      spm_model **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "spm_load_bytes: out is NULL");
  *out = nullptr;
  if (!label) label = "(memory)";
  if (!data && n) return clap_error_set(err, CLAP_ERR_ARG, "spm_load_bytes: data is NULL");
  try {
    auto m = std::make_unique<spm_model>(); /* freed if loading throws */
    std::string_view bytes(static_cast<const char *>(data), n);
    auto st = m->sp.LoadFromSerializedProto(bytes);
    return load_status(std::move(m), st, label, out, err);
  } catch (const std::bad_alloc &) {
    return clap_error_set(err, CLAP_ERR_NOMEM, "%.200s: out of memory loading the model", label);
  } catch (const std::exception &e) {
    return clap_error_set(err, CLAP_ERR_FORMAT, "%.200s: %.200s", label, e.what());
  } catch (...) {
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%.200s: unknown error loading the model",
                          label);
  }
}

extern "C" void spm_free(spm_model *m) {
  try {
    delete m;
  } catch (...) {
  }
}

extern "C" int spm_vocab_size(const spm_model *m) {
  try {
    return m ? m->sp.GetPieceSize() : 0;
  } catch (...) {
    return 0;
  }
}

extern "C" int spm_piece_to_id(const spm_model *m, const char *piece, size_t n) {
  try {
    return m ? m->sp.PieceToId(std::string_view(piece, n)) : -1;
  } catch (...) {
    return -1;
  }
}

extern "C" int spm_piece_id(const spm_model *m, const char *piece, size_t n) {
  try {
    if (!m) return -1;
    int id = m->sp.PieceToId(std::string_view(piece, n));
    if (id < 0 || id >= m->sp.GetPieceSize()) return -1;
    /* PieceToId answers the unknown id for absent pieces: tell them apart. */
    const std::string &p = m->sp.IdToPiece(id);
    return p.size() == n && std::memcmp(p.data(), piece, n) == 0 ? id : -1;
  } catch (...) {
    return -1;
  }
}

extern "C" int spm_unk_id(const spm_model *m) {
  try {
    return m ? m->sp.unk_id() : -1;
  } catch (...) {
    return -1;
  }
}

extern "C" void spm_pieces_free(spm_pieces *p) {
  if (!p) return;
  std::free(p->text);
  std::free(p->off);
  p->text = nullptr;
  p->off = nullptr;
  p->n = 0;
}

/* Copy the pieces into C-owned malloc memory. */
static clap_status export_pieces(const std::vector<std::string> &v, spm_pieces *out,
                                 clap_error *err) {
  size_t total = 0;
  for (const auto &s : v) total += s.size();
  out->text = static_cast<char *>(std::malloc(total + 1));
  out->off = static_cast<size_t *>(std::malloc((v.size() + 1) * sizeof(size_t)));
  if (!out->text || !out->off) {
    spm_pieces_free(out);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory encoding text");
  }
  size_t at = 0;
  for (size_t i = 0; i < v.size(); i++) {
    out->off[i] = at;
    if (!v[i].empty()) std::memcpy(out->text + at, v[i].data(), v[i].size());
    at += v[i].size();
  }
  out->off[v.size()] = at;
  out->text[at] = 0;
  out->n = static_cast<int>(v.size());
  return CLAP_OK;
}

extern "C" clap_status spm_encode(const spm_model *m, const char *text, size_t n,
                                  spm_pieces *out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "spm_encode: out is NULL");
  out->text = nullptr;
  out->off = nullptr;
  out->n = 0;
  if (!m || (!text && n)) return clap_error_set(err, CLAP_ERR_ARG, "spm_encode: NULL argument");
  if (n > (size_t)INT32_MAX / 2)
    return clap_error_set(err, CLAP_ERR_RANGE, "text of %zu bytes is too long to tokenize", n);
  try {
    std::vector<std::string> pieces;
    auto st = m->sp.Encode(std::string_view(text ? text : "", n), &pieces);
    if (!st.ok())
      return clap_error_set(err, CLAP_ERR_INTERNAL, "sentencepiece: %.300s",
                            st.ToString().c_str());
    return export_pieces(pieces, out, err);
  } catch (const std::bad_alloc &) {
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory encoding text");
  } catch (const std::exception &e) {
    return clap_error_set(err, CLAP_ERR_INTERNAL, "sentencepiece: %.300s", e.what());
  } catch (...) {
    return clap_error_set(err, CLAP_ERR_INTERNAL, "sentencepiece: unknown error encoding text");
  }
}
