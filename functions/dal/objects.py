"""The lists bucket: uploaded calling lists, their validated records and refused rows, preview runs.

Keys (one private bucket, encrypted, versioned; each prefix has its lifecycle, see infra/lists.py):
- ``uploads/<job id>.csv``: a tenant's file, PUT through a pre-signed URL; its arrival is an S3
  event on the validation queue. Expires after 2 days (it is read once).
- ``lists/<job id>/records.jsonl``: the accepted records, one JSON object a line, rendered, in row
  order; the preview reads byte ranges of it in parallel, the fan-out pages it by byte offset.
- ``lists/<job id>/errors.csv``: the refused rows (row, field, reason, error), served page by page
  by byte offset and as a download. Both expire after 45 days (a list is sent within 30).
- ``previews/<job id>/<generation>/<segment>/<version>.bin``: a preview segment's sorted run of
  candidate numbers, merged once every segment is done. Expires after 1 day.

Objects are written once and read sequentially: nothing here is a hot key, whatever a job's size.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

# S3's smallest multipart part (but the last) is 5 MiB; 8 MiB parts keep a writer's memory flat.
PART_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 256 * 1024


class ObjectWriter:
    """Writes one object of any size with flat memory: multipart once it outgrows one part."""

    def __init__(self, s3: S3Client, bucket: str, key: str, content_type: str) -> None:
        self._s3, self._bucket, self._key, self._content_type = s3, bucket, key, content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= PART_BYTES:
            self._flush_part()

    def _flush_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type
            )["UploadId"]
        number = len(self._parts) + 1
        answer = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self._buffer.clear()

    def close(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(
                Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer), ContentType=self._content_type
            )
            return
        if self._buffer:
            self._flush_part()
        self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


class ObjectStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def writer(self, key: str, content_type: str = "application/octet-stream") -> ObjectWriter:
        return ObjectWriter(self._s3, self.bucket, key, content_type)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def size(self, key: str) -> int | None:
        try:
            return int(self._s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as error:
            if error.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def stream(self, key: str, start: int = 0, end: int | None = None) -> Any:
        """The object's bytes from ``start`` up to ``end`` (exclusive, None: its end), as a stream."""
        if end is not None and end <= start:
            return _Empty()
        byte_range = f"bytes={start}-{'' if end is None else end - 1}"
        return self._s3.get_object(Bucket=self.bucket, Key=key, Range=byte_range)["Body"]

    def chunks(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        body = self.stream(key, start, end)
        try:
            while chunk := body.read(READ_CHUNK_BYTES):
                yield chunk
        finally:
            body.close()

    def lines(
        self, key: str, start: int = 0, end: int | None = None
    ) -> Generator[tuple[int, bytes], None, None]:
        """Each line (without its newline) that starts at or after ``start`` and before ``end``, with the
        offset just past it. A range that begins mid-line skips that line: a line belongs to the range
        it starts in, so ranges that meet split a file's lines between them exactly."""
        read_from = max(start - 1, 0)  # one byte back: is ``start`` itself the start of a line?
        skip = start > 0
        position = read_from  # the offset of data[0]
        pending = b""
        for chunk in self.chunks(key, read_from):
            data = pending + chunk if pending else chunk
            index = 0
            while (newline := data.find(b"\n", index)) >= 0:
                line_start, line = position + index, data[index:newline]
                index = newline + 1
                if skip:
                    skip = False
                    continue
                if end is not None and line_start >= end:
                    return
                yield position + index, line
            position += index
            pending = data[index:]
        if pending and not skip and (end is None or position < end):
            yield position + len(pending), pending

    def presigned_put(self, key: str, content_type: str, expires: timedelta) -> str:
        return str(
            self._s3.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type},
                ExpiresIn=int(expires.total_seconds()),
            )
        )

    def upload_origin(self) -> str:
        """The scheme and host every pre-signed URL of this bucket names (what a browser PUTs to)."""
        address = urlsplit(self.presigned_put("uploads/origin.csv", "text/csv", timedelta(minutes=1)))
        return f"{address.scheme}://{address.netloc}"

    def presigned_get(self, key: str, expires: timedelta, filename: str) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                },
                ExpiresIn=int(expires.total_seconds()),
            )
        )

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)


class _Empty:
    def read(self, _: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        return None
