"""Loki's push messages built at runtime from descriptors, as an independent decoder for tests."""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2


def _build():
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    f = descriptor_pb2.FileDescriptorProto(name="push.proto", package="logproto", syntax="proto3")
    f.dependency.append("google/protobuf/timestamp.proto")
    T = descriptor_pb2.FieldDescriptorProto

    def msg(name, *fields):
        m = f.message_type.add(name=name)
        for fname, num, ftype, label, tname in fields:
            fd = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                fd.type_name = tname

    opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED
    msg("LabelPair", ("name", 1, T.TYPE_STRING, opt, None), ("value", 2, T.TYPE_STRING, opt, None))
    msg(
        "Entry",
        ("timestamp", 1, T.TYPE_MESSAGE, opt, ".google.protobuf.Timestamp"),
        ("line", 2, T.TYPE_STRING, opt, None),
        ("structuredMetadata", 3, T.TYPE_MESSAGE, rep, ".logproto.LabelPair"),
    )
    msg("Stream", ("labels", 1, T.TYPE_STRING, opt, None), ("entries", 2, T.TYPE_MESSAGE, rep, ".logproto.Entry"))
    msg("PushRequest", ("streams", 1, T.TYPE_MESSAGE, rep, ".logproto.Stream"))
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logproto.PushRequest"))


PushRequest = _build()
