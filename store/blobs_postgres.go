package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/stdlib"
)

// copyChunkSQL is the COPY of one chunk in PostgreSQL's binary format.
const copyChunkSQL = "COPY blob_chunks (blob_id, idx, data) FROM STDIN (FORMAT binary)"

// copyChunk writes one chunk with COPY ... FROM STDIN, streaming data from
// the caller's buffer. An INSERT would bind data as a parameter, which pgx
// copies twice while encoding (its parameter and message buffers grow to
// the chunk's size and are then dropped): about 2 bytes allocated per
// byte stored, where COPY allocates almost nothing.
func (s *Store) copyChunk(ctx context.Context, id string, idx int, data []byte) error {
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: copy chunk: driver connection is %T, not pgx's", dc)
		}
		r := copyRow(id, idx, data)
		_, err := c.Conn().PgConn().CopyFrom(ctx, &r, copyChunkSQL)
		return err
	})
}

// copyRow is the binary COPY stream of one row (blob_id, idx, data):
// signature, flags and header extension, the tuple's field count, each
// field as a length and its bytes, then the end marker.
func copyRow(id string, idx int, data []byte) partsReader {
	head := make([]byte, 0, 64+len(id))
	head = append(head, "PGCOPY\n\xff\r\n\x00"...)
	head = binary.BigEndian.AppendUint32(head, 0) // flags
	head = binary.BigEndian.AppendUint32(head, 0) // header extension length
	head = binary.BigEndian.AppendUint16(head, 3) // fields
	head = binary.BigEndian.AppendUint32(head, uint32(len(id)))
	head = append(head, id...)
	head = binary.BigEndian.AppendUint32(head, 4)
	head = binary.BigEndian.AppendUint32(head, uint32(idx))
	head = binary.BigEndian.AppendUint32(head, uint32(len(data)))
	return partsReader{head, data, []byte{0xff, 0xff}}
}

// partsReader reads its byte slices one after the other.
type partsReader [][]byte

func (p *partsReader) Read(b []byte) (int, error) {
	for len(*p) > 0 && len((*p)[0]) == 0 {
		*p = (*p)[1:]
	}
	if len(*p) == 0 {
		return 0, io.EOF
	}
	n := copy(b, (*p)[0])
	(*p)[0] = (*p)[0][n:]
	return n, nil
}
