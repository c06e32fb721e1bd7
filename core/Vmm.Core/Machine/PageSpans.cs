using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// The per-page pieces of a transfer of <c>buffer</c> at <c>start</c>: every access that crosses 4 KiB pages
/// (a load or store, copy_to_user, a direct-map or DMA copy, a file read) walks them, so no loop clamps its
/// own chunk. Allocation-free: <c>foreach (var span in new PageSpans(start, buffer))</c>. Addresses wrap
/// modulo 2^64; callers check their ranges first.
/// </summary>
internal ref struct PageSpans
{
    private readonly Span<byte> _buffer;
    private readonly ulong _start;
    private int _next;
    private PageSpan _current;

    public PageSpans(ulong start, Span<byte> buffer)
    {
        _start = start;
        _buffer = buffer;
        _next = 0;
        _current = default;
    }

    public readonly PageSpans GetEnumerator() => this;

    public readonly PageSpan Current => _current;

    public bool MoveNext()
    {
        if (_next >= _buffer.Length) return false;
        var address = _start + (ulong)_next;
        var inPage = (int)(address & (PageGeometry.PageSize - 1));
        var length = Math.Min(_buffer.Length - _next, PageGeometry.PageSize - inPage);
        _current = new PageSpan(address, inPage, _next, _buffer.Slice(_next, length));
        _next += length;
        return true;
    }
}

/// <summary>One page's piece of a transfer: its address, its offset in the page, where it starts in the buffer, and the bytes.</summary>
internal readonly ref struct PageSpan
{
    public PageSpan(ulong address, int pageOffset, int bufferOffset, Span<byte> chunk)
    {
        Address = address;
        PageOffset = pageOffset;
        BufferOffset = bufferOffset;
        Chunk = chunk;
    }

    public ulong Address { get; }

    /// <summary>The offset of <see cref="Address"/> in its 4 KiB page.</summary>
    public int PageOffset { get; }

    /// <summary>How many bytes of the buffer come before this piece.</summary>
    public int BufferOffset { get; }

    public Span<byte> Chunk { get; }

    /// <summary>The page's index: the address divided by 4 KiB (a pfn offset, a file index, a gfn).</summary>
    public ulong PageIndex => Address >> PageGeometry.PageShift;
}
