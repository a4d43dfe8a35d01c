# patch_st.py FILE TENSOR VALUE [INDEX]: set one element (or, without INDEX,
# every element) of an F32 tensor of a safetensors file, in place.
import json, struct, sys
path, name, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
b = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])[name]
start, end = (8 + n + o for o in t["data_offsets"])
idx = [int(sys.argv[4])] if len(sys.argv) > 4 else range((end - start) // 4)
for i in idx:
    b[start + 4 * i:start + 4 * i + 4] = struct.pack("<f", value)
open(path, "wb").write(b)
