// SentencePiece tokenizers (models/tokenizer.h): Google's libsentencepiece encodes, for a
// tokenizer.model file and for a GGUF vocabulary of tokenizer.ggml.model "llama" alike.
//
// The GGUF vocabulary reaches the library as the ModelProto it describes, serialized here by hand:
// Debian's libsentencepiece-dev (0.1.97) ships sentencepiece_processor.h but neither
// sentencepiece_model.pb.h nor the .proto (its protobuf-lite is built into libsentencepiece.so), so
// no library on the system can build a ModelProto; LoadFromSerializedProto takes the wire bytes.
// The message is small and the protobuf wire format (varint / 32-bit / length-delimited fields)
// simple; field numbers are those of sentencepiece's src/sentencepiece_model.proto (v0.1.97):
//   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
//   SentencePiece   1 piece (string), 2 score (float), 3 type (enum: 1 NORMAL, 2 UNKNOWN,
//                   3 CONTROL, 4 USER_DEFINED, 5 UNUSED, 6 BYTE -- GGUF's token_type numbering)
//   TrainerSpec     3 model_type (enum: 2 BPE), 35 byte_fallback, 40 unk_id, 41 bos_id, 42 eos_id,
//                   43 pad_id, 45 unk_piece, 46 bos_piece, 47 eos_piece, 48 pad_piece
//   NormalizerSpec  1 name, 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5 escape_whitespaces
// The same numbers read add_dummy_prefix back out of a tokenizer.model (normalizer_spec field 3,
// default true), which the processor's header does not expose either.
#include <sentencepiece_processor.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "models/file_text.h"
#include "models/tokenizer.h"

namespace ferry {

struct Tokenizer::Spm {
  std::unique_ptr<sentencepiece::SentencePieceProcessor> proc;
};

namespace {

constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's whitespace symbol

// ---- protobuf wire format ---------------------------------------------------------------------
class ProtoWriter {
 public:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void tag(int field, int wire) { varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire)); }
  // int32 and enum: varint, a negative value sign-extended to 64 bits (ten bytes).
  void int32(int field, std::int32_t v) {
    tag(field, 0);
    varint(static_cast<std::uint64_t>(static_cast<std::int64_t>(v)));
  }
  void boolean(int field, bool v) {
    tag(field, 0);
    varint(v ? 1 : 0);
  }
  void float32(int field, float v) {  // fixed 32-bit, little-endian
    tag(field, 5);
    std::uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  void bytes(int field, std::string_view s) {  // string, bytes and embedded messages
    tag(field, 2);
    varint(s.size());
    out_.append(s);
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// The fields of one message, in order: calls f(field, wire, varint value, length-delimited bytes).
// false when the bytes are not a well-formed message (groups, wire types 3/4, are not expected).
template <class F>
bool for_each_field(std::string_view m, F&& f) {
  std::size_t i = 0;
  const auto read_varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (i >= m.size()) return false;
      const auto b = static_cast<std::uint8_t>(m[i++]);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  while (i < m.size()) {
    std::uint64_t key = 0, v = 0;
    if (!read_varint(key)) return false;
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    std::string_view data;
    if (wire == 0) {
      if (!read_varint(v)) return false;
    } else if (wire == 1 || wire == 5) {
      const std::size_t n = wire == 1 ? 8 : 4;
      if (m.size() - i < n) return false;
      i += n;
    } else if (wire == 2) {
      if (!read_varint(v) || v > m.size() - i) return false;
      data = m.substr(i, static_cast<std::size_t>(v));
      i += static_cast<std::size_t>(v);
    } else {
      return false;
    }
    f(field, wire, v, data);
  }
  return true;
}

// normalizer_spec.add_dummy_prefix of a serialized ModelProto (the last value given wins, as in
// protobuf; absent = the default, true).
bool add_dummy_prefix_of(std::string_view model) {
  bool dummy = true;
  for_each_field(model, [&](int field, int wire, std::uint64_t, std::string_view data) {
    if (field != 3 || wire != 2) return;
    for_each_field(data, [&](int f2, int w2, std::uint64_t v, std::string_view) {
      if (f2 == 3 && w2 == 0) dummy = v != 0;
    });
  });
  return dummy;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}


// <0xNN> -> NN, -1 when `piece` is not of that form.
int byte_of_piece(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  int v = 0;
  for (int k = 3; k < 5; ++k) {
    const char c = piece[static_cast<std::size_t>(k)];
    const int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

std::string replace_space_symbol(const std::string& piece) {
  std::string out;
  out.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size();) {
    if (piece.compare(i, 3, kSpace) == 0) {
      out.push_back(' ');
      i += 3;
    } else {
      out.push_back(piece[i++]);
    }
  }
  return out;
}

}  // namespace

Tokenizer Tokenizer::from_processor(std::unique_ptr<sentencepiece::SentencePieceProcessor> proc,
                                    const std::string& where, bool add_dummy_prefix) {
  Tokenizer t;
  t.kind_ = Kind::SentencePiece;
  t.source_ = where;
  t.dummy_prefix_ = add_dummy_prefix;
  const int n = proc->GetPieceSize();
  if (n <= 0) throw BadInput(where + ": the SentencePiece model has no pieces");
  const auto un = static_cast<std::size_t>(n);
  t.id_bytes_.assign(un, std::string());
  t.id_present_.assign(un, true);
  t.piece_flags_.assign(un, 0);
  for (int id = 0; id < n; ++id) {
    const auto k = static_cast<std::size_t>(id);
    const std::string& piece = proc->IdToPiece(id);
    t.token_ids_.emplace(piece, id);
    if (proc->IsControl(id)) {
      t.id_bytes_[k] = piece;
      t.piece_flags_[k] = kControl;
      t.specials_.emplace_back(piece, id);
    } else if (proc->IsUnknown(id)) {
      std::string surface;  // the library's unk_surface, " \u2047 " unless the model says otherwise
      if (!proc->Decode(std::vector<int>{id}, &surface).ok()) surface = piece;
      t.id_bytes_[k] = surface;
    } else if (proc->IsByte(id) && byte_of_piece(piece) >= 0) {
      t.id_bytes_[k] = std::string(1, static_cast<char>(byte_of_piece(piece)));
    } else {
      t.id_bytes_[k] = replace_space_symbol(piece);
      if (piece.compare(0, 3, kSpace) == 0) t.piece_flags_[k] = kLeadingSpace;
    }
  }
  t.sort_specials();
  t.bos_id_ = proc->bos_id();
  t.eos_id_ = proc->eos_id();
  auto spm = std::make_shared<Spm>();
  spm->proc = std::move(proc);
  t.spm_ = std::move(spm);
  return t;
}

Tokenizer Tokenizer::from_sentencepiece_model(const std::string& path, bool add_bos, bool add_eos) {
  const std::string model = read_file(path);
  if (model.empty()) throw BadInput(path + ": empty file (expected a SentencePiece model)");
  auto proc = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const sentencepiece::util::Status st = proc->LoadFromSerializedProto(model);
  if (!st.ok()) {
    // The library's message for bytes that are no ModelProto is its source line: say it plainly.
    const std::string why = one_line(st.ToString());
    throw BadInput(path + ": not a valid SentencePiece model: " +
                   (why.find("ParseFromArray") != std::string::npos ? "the bytes do not parse as a ModelProto (" +
                                                                          std::to_string(model.size()) + " bytes)"
                                                                    : why));
  }
  Tokenizer t = from_processor(std::move(proc), path, add_dummy_prefix_of(model));
  t.add_bos_ = add_bos;
  t.add_eos_ = add_eos;
  return t;
}

Tokenizer Tokenizer::from_llama_data(const TokenizerData& d, const std::string& where) {
  const std::size_t n = d.tokens.size();
  if (n == 0) throw BadInput(where + ": tokenizer.ggml.tokens: empty vocabulary");
  if (!d.scores.empty() && d.scores.size() != n)
    throw BadInput(where + ": tokenizer.ggml.scores has " + std::to_string(d.scores.size()) + " entries for " +
                   std::to_string(n) + " tokens");
  if (!d.token_type.empty() && d.token_type.size() != n)
    throw BadInput(where + ": tokenizer.ggml.token_type has " + std::to_string(d.token_type.size()) +
                   " entries for " + std::to_string(n) + " tokens");
  const auto check_id = [&](std::int32_t id, const char* what) {
    if (id >= static_cast<std::int64_t>(n))
      throw BadInput(where + ": " + what + " id " + std::to_string(id) + " is not in the vocabulary");
    return id;
  };
  check_id(d.bos_id, "BOS");
  check_id(d.eos_id, "EOS");
  check_id(d.unk_id, "unknown-token");
  check_id(d.pad_id, "padding");

  // Piece types: token_type as given (GGUF numbers them as sentencepiece does); without it, the
  // unknown/BOS/EOS ids and <0xNN> pieces say what they are.
  std::vector<std::int32_t> types(n, 1);
  bool has_unknown = false, has_bytes = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (!d.token_type.empty()) {
      types[i] = d.token_type[i];
      if (types[i] < 1 || types[i] > 6)
        throw BadInput(where + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] = " + std::to_string(types[i]) +
                       " is not a SentencePiece piece type (1 normal ... 6 byte)");
    } else if (static_cast<std::int32_t>(i) == d.unk_id) {
      types[i] = 2;
    } else if (static_cast<std::int32_t>(i) == d.bos_id || static_cast<std::int32_t>(i) == d.eos_id) {
      types[i] = 3;
    } else if (byte_of_piece(d.tokens[i]) >= 0) {
      types[i] = 6;
    }
    has_unknown |= types[i] == 2;
    has_bytes |= types[i] == 6;
  }
  if (!has_unknown && d.unk_id >= 0) types[static_cast<std::size_t>(d.unk_id)] = 2;

  ProtoWriter model;
  for (std::size_t i = 0; i < n; ++i) {
    ProtoWriter piece;
    piece.bytes(1, d.tokens[i]);
    piece.float32(2, d.scores.empty() ? 0.0f : d.scores[i]);
    piece.int32(3, types[i]);
    model.bytes(1, piece.str());
  }
  const auto piece_of = [&](std::int32_t id) { return id >= 0 ? d.tokens[static_cast<std::size_t>(id)] : std::string(); };
  ProtoWriter trainer;
  trainer.int32(3, 2);  // model_type BPE
  trainer.boolean(35, has_bytes);
  trainer.int32(40, d.unk_id);
  trainer.int32(41, d.bos_id);
  trainer.int32(42, d.eos_id);
  trainer.int32(43, d.pad_id);
  if (d.unk_id >= 0) trainer.bytes(45, piece_of(d.unk_id));
  if (d.bos_id >= 0) trainer.bytes(46, piece_of(d.bos_id));
  if (d.eos_id >= 0) trainer.bytes(47, piece_of(d.eos_id));
  if (d.pad_id >= 0) trainer.bytes(48, piece_of(d.pad_id));
  model.bytes(2, trainer.str());
  ProtoWriter normalizer;  // LLaMA's: no normalization, whitespace kept as it is, then escaped
  normalizer.bytes(1, "identity");
  normalizer.boolean(3, d.add_space_prefix);
  normalizer.boolean(4, false);
  normalizer.boolean(5, true);
  model.bytes(3, normalizer.str());

  auto proc = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const sentencepiece::util::Status st = proc->LoadFromSerializedProto(model.str());
  if (!st.ok())
    throw BadInput(where + ": not a valid SentencePiece vocabulary (tokenizer.ggml.model llama): " + one_line(st.ToString()));
  Tokenizer t = from_processor(std::move(proc), where, d.add_space_prefix);
  // The GGUF's ids, not the library's guesses from the piece names.
  t.bos_id_ = d.bos_id;
  t.eos_id_ = d.eos_id;
  t.add_bos_ = d.add_bos && d.bos_id >= 0;
  t.add_eos_ = d.add_eos && d.eos_id >= 0;
  t.chat_template_ = d.chat_template;
  return t;
}

void Tokenizer::spm_encode(std::string_view text, std::vector<std::int32_t>& ids) const {
  if (text.empty()) return;
  std::vector<int> out;
  const sentencepiece::util::Status st = spm_->proc->Encode(text, &out);
  if (!st.ok()) throw BadInput(source_ + ": SentencePiece encoding failed: " + one_line(st.ToString()));
  ids.insert(ids.end(), out.begin(), out.end());
}

}  // namespace ferry
