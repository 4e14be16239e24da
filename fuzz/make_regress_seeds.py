#!/usr/bin/env python3
"""Writes the hand-made regression seeds fuzz/corpus/onnx/regress_*.onnx.

Each is a one- or few-node model whose constant inputs reproduce a kernel
finding of the ONNX loader fuzzing (see fuzz/README.md): before the fix each
one crashed the fuzz target (UBSan, ASan allocation-size-too-big, or a
libFuzzer timeout); now each loads and runs, or is refused with an error
naming the node. They stay in the corpus as regression inputs and as seeds for
the structures they use (empty tensors with huge dims, extreme attributes,
integer extremes). (The regress_fuzz_*.onnx files are the fuzzer's own
crashing inputs, kept as they were found.)

No onnx package is needed: the protobuf is written by hand below.
  python3 fuzz/make_regress_seeds.py [DEST_DIR]   (default: fuzz/corpus/onnx)
"""
import os
import struct
import sys

# ONNX TensorProto.DataType codes.
F, U8, I8, I16, I32, I64, BOOL, F64 = 1, 2, 3, 5, 6, 7, 9, 11
BIG = 1 << 40
INT64_MAX = (1 << 63) - 1


# ---- protobuf wire format
def varint(n):
    n &= (1 << 64) - 1  # negative int64s are 10-byte two's complement varints
    out = b''
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def key(field, wire):
    return varint((field << 3) | wire)


def vi(field, n):
    return key(field, 0) + varint(n)


def ld(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


def f32(field, x):
    return key(field, 5) + struct.pack('<f', x)


# ---- ONNX messages (field numbers from onnx.proto)
def tensor(name, dtype, dims, raw=b''):  # dims=1 data_type=2 name=8 raw_data=9
    b = b''.join(vi(1, d) for d in dims) + vi(2, dtype) + ld(8, name)
    return b + ld(9, raw) if raw else b


def attr_i(name, i):  # AttributeProto: name=1 f=2 i=3 s=4 t=5 g=6 ints=8 type=20
    return ld(1, name) + vi(3, i) + vi(20, 2)


def attr_f(name, x):
    return ld(1, name) + f32(2, x) + vi(20, 1)


def attr_s(name, s):
    return ld(1, name) + ld(4, s) + vi(20, 3)


def attr_t(name, t):
    return ld(1, name) + ld(5, t) + vi(20, 4)


def attr_g(name, g):
    return ld(1, name) + ld(6, g) + vi(20, 5)


def attr_ints(name, v):
    return ld(1, name) + b''.join(vi(8, x) for x in v) + vi(20, 7)


def node(op, ins, outs, attrs=(), name='n0'):  # input=1 output=2 name=3 op_type=4 attribute=5
    return (b''.join(ld(1, i) for i in ins) + b''.join(ld(2, o) for o in outs) + ld(3, name) +
            ld(4, op) + b''.join(ld(5, a) for a in attrs))


def vinfo(name, dtype, dims=None):  # ValueInfoProto{name, type{tensor_type{elem_type, shape}}}
    tt = vi(1, dtype)
    if dims is not None:
        tt += ld(2, b''.join(ld(1, vi(1, d)) for d in dims))
    return ld(1, name) + ld(2, ld(1, tt))


def graph(nodes, inits, inputs, outputs, name='g'):  # node=1 name=2 initializer=5 input=11 output=12
    return (b''.join(ld(1, n) for n in nodes) + ld(2, name) + b''.join(ld(5, t) for t in inits) +
            b''.join(ld(11, v) for v in inputs) + b''.join(ld(12, v) for v in outputs))


def model(g, opset):  # ir_version=1 producer_name=2 graph=7 opset_import=8{domain=1 version=2}
    return vi(1, 8) + ld(2, 'tiffin-fuzz') + ld(7, g) + ld(8, ld(1, '') + vi(2, opset))


def f(*v):
    return struct.pack('<%df' % len(v), *v)


def q(*v):
    return struct.pack('<%dq' % len(v), *v)


def i32(*v):
    return struct.pack('<%di' % len(v), *v)


def one(op, inits, out_dtype=F, attrs=(), outs=('Y',)):
    """A graph of one node reading initializers (name, dtype, dims, raw)."""
    names = [t[0] for t in inits]
    return graph([node(op, names, list(outs), attrs)], [tensor(*t) for t in inits], [],
                 [vinfo(o, out_dtype) for o in outs])


def seeds():
    k = 1 << 31
    u8_one = tensor('v', U8, [1], bytes([1]))
    i8_one = tensor('v', I8, [1], bytes([1]))
    body = graph([node('Identity', ['cond_in'], ['cond_out'], [], 'b0'),
                  node('Identity', ['x_in'], ['x_out'], [], 'b1')], [],
                 [vinfo('iter', I64, []), vinfo('cond_in', BOOL, []), vinfo('x_in', F, [1])],
                 [vinfo('cond_out', BOOL, []), vinfo('x_out', F, [1])], 'body')
    return {
        # Empty tensors whose other dims multiply past int64 or past memory.
        'layernorm_empty_huge': model(one('LayerNormalization', [
            ('X', F, [0, 1 << 20, 1 << 20]), ('S', F, [1], f(2)), ('B', F, [1], f(1))],
            attrs=[attr_i('axis', 1)]), 17),
        'softmax_empty_huge': model(one('Softmax', [('X', F, [0, BIG, BIG])],
                                        attrs=[attr_i('axis', 0)]), 13),
        'lpnorm_empty_huge': model(one('LpNormalization', [('X', F, [0, BIG, BIG])],
                                       attrs=[attr_i('axis', 0)]), 17),
        'reducesum_empty_huge': model(one('ReduceSum', [('X', F, [0, BIG, BIG]),
                                                        ('A', I64, [2], q(1, 2))]), 13),
        'rnn_empty_seq_huge_batch': model(one('RNN', [
            ('X', F, [0, BIG, 1]), ('W', F, [1, 1, 1], f(1)), ('R', F, [1, 1, 1], f(1))],
            attrs=[attr_i('hidden_size', 1)]), 14),
        # A 2^31 pooling window (with pads just below it) on one element.
        'maxpool_huge_kernel': model(one('MaxPool', [('X', F, [1, 1, 1], f(6))], attrs=[
            attr_ints('kernel_shape', [k]), attr_ints('pads', [k - 1, k - 1]),
            attr_ints('strides', [k])]), 19),
        # MatMulInteger whose 2^32-element output was computed before its
        # size was checked; its inputs come from two small ConstantOfShape.
        'matmulinteger_huge_output': model(graph([
            node('ConstantOfShape', ['sa'], ['A'], [attr_t('value', u8_one)], 'ca'),
            node('ConstantOfShape', ['sb'], ['B'], [attr_t('value', u8_one)], 'cb'),
            node('MatMulInteger', ['A', 'B'], ['Y'], [], 'mm')],
            [tensor('sa', I64, [2], q(1 << 16, 1)), tensor('sb', I64, [2], q(1, 1 << 16))], [],
            [vinfo('Y', I32)]), 13),
        # NaN / infinity reaching a float -> integer conversion.
        'quantizelinear_nan': model(one('QuantizeLinear', [
            ('X', F, [2], f(float('nan'), 1)), ('S', F, [], f(0)), ('Z', U8, [], bytes([0]))],
            U8), 13),
        'dynamicquantize_inf': model(graph(
            [node('DynamicQuantizeLinear', ['X'], ['Y', 'S', 'Z'])],
            [tensor('X', F, [2], f(float('-inf'), float('inf')))], [],
            [vinfo('Y', U8), vinfo('S', F), vinfo('Z', U8)]), 13),
        'pow_int16_saturate': model(one('Pow', [
            ('X', I16, [1], struct.pack('<h', 10)), ('E', F64, [1], struct.pack('<d', 200))],
            I16), 15),
        'reducelogsum_int8': model(one('ReduceLogSum', [('X', I8, [2], bytes([0, 0]))], I8,
                                       [attr_i('keepdims', 0)]), 13),
        # Float attributes out of an integer input's range.
        'gemm_int_alpha': model(one('Gemm', [('A', I32, [1, 1], i32(1)), ('B', I32, [1, 1], i32(1))],
                                    I32, [attr_f('alpha', 1e10)]), 13),
        'clip6_int_attr': model(one('Clip', [('X', I32, [2], i32(5, -5))], I32,
                                    [attr_f('min', -1e30), attr_f('max', 1e30)]), 6),
        'shrink_int8_saturate': model(one('Shrink', [('X', I8, [1], bytes([100]))], I8,
                                          [attr_f('lambd', 0), attr_f('bias', -1e30)]), 13),
        'pad2_int_value': model(one('Pad', [('X', I32, [1], i32(7))], I32,
                                    [attr_ints('pads', [1, 1]), attr_f('value', 1e30)]), 2),
        # Signed integer overflow.
        'add_int32_overflow': model(one('Add', [('A', I32, [1], i32(2**31 - 1)),
                                                ('B', I32, [1], i32(1))], I32), 13),
        'prelu_int32_overflow': model(one('PRelu', [('X', I32, [1], i32(-(1 << 30))),
                                                    ('S', I32, [1], i32(4))], I32), 16),
        'einsum_int64_overflow': model(one('Einsum', [('A', I64, [2], q(INT64_MAX, 1)),
                                                      ('B', I64, [2], q(2, 2))], I64,
                                           [attr_s('equation', 'i,i->')]), 12),
        'scatterelements_add_overflow': model(one('ScatterElements', [
            ('D', I32, [2], i32(2**31 - 1, 5)), ('I', I64, [1], q(0)), ('U', I32, [1], i32(1))],
            I32, [attr_s('reduction', 'add')]), 18),
        'pad_int64_min_begin': model(one('Pad', [('X', F, [3], f(1, 2, 3)),
                                                 ('P', I64, [2], q(-(1 << 63), INT64_MAX))],
                                         attrs=[attr_s('mode', 'reflect')]), 13),
        'eyelike_k_max': model(one('EyeLike', [('X', F, [2, 2], f(0, 0, 0, 0))],
                                   attrs=[attr_i('k', INT64_MAX)]), 13),
        # ReduceMean of 256 int8s divided by the count cast to int8 (0).
        'reducemean_int8_256': model(graph([
            node('ConstantOfShape', ['s'], ['X'], [attr_t('value', i8_one)], 'c'),
            node('ReduceMean', ['X'], ['Y'], [attr_i('keepdims', 0)], 'r')],
            [tensor('s', I64, [1], q(256))], [], [vinfo('Y', I8)]), 13),
        # A Loop with trip count 2^63 - 1 and a condition that stays true.
        'loop_forever': model(graph([node('Loop', ['M', 'C', 'X0'], ['Y'], [attr_g('body', body)])],
                                    [tensor('M', I64, [], q(INT64_MAX)),
                                     tensor('C', BOOL, [], bytes([1])),
                                     tensor('X0', F, [1], f(1))], [], [vinfo('Y', F)]), 13),
    }


if __name__ == '__main__':
    dest = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'onnx')
    for name, data in seeds().items():
        with open(os.path.join(dest, 'regress_' + name + '.onnx'), 'wb') as fh:
            fh.write(data)
    print('wrote %d seeds to %s' % (len(seeds()), dest))
