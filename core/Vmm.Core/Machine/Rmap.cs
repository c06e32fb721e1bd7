using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// Reverse map pfn → (process, virtual address, size) of every host mapping, as the kernel's anon_vma and
/// i_mmap walks give try_to_unmap. A frame's single mapping sits inline in its frame-table rmap word (most
/// frames have exactly one); a second one moves both into nodes of a pooled array with a free list, newest
/// first, and the last one left moves back inline. Adding and removing a mapping allocates nothing once the
/// pool has grown.
/// </summary>
internal sealed class Rmap
{
    // Rmap word: 0 = none; bit 0 set = inline (bit 1 huge, bits 2..11 pid, bits 12..47 the page-aligned va); else node << 1.
    private const ulong InlineTag = 1;
    private const ulong InlineHuge = 2;
    private const int PidShift = 2;
    private const int PidLimit = 1 << 10;
    private const ulong VaMask = (1UL << 48) - 1 & ~(ulong)(PageGeometry.PageSize - 1);

    private readonly FrameTable _frames;
    private int[] _next = new int[256];
    private int[] _pid = new int[256];
    private ulong[] _va = new ulong[256];
    private byte[] _huge = new byte[256];
    private int _used = 1; // node 0 means "none"
    private int _freeHead;

    public Rmap(FrameTable frames) => _frames = frames;

    /// <summary>Mappings recorded, inline or in nodes.</summary>
    public int LiveNodes { get; private set; }

    public void Add(Pfn pfn, int pid, ulong va, MappingSize size)
    {
        var word = _frames.RmapWord(pfn);
        if (word == 0 && Inline(pid, va, size) is var inline and not 0)
        {
            _frames.SetRmapWord(pfn, inline);
            LiveNodes++;
            return;
        }
        var head = (word & InlineTag) != 0 ? Spill(word) : (int)(word >> 1);
        var node = NewNode(pid, va, size);
        _next[node] = head;
        _frames.SetRmapWord(pfn, (ulong)node << 1);
        LiveNodes++;
    }

    public bool Remove(Pfn pfn, int pid, ulong va)
    {
        var word = _frames.RmapWord(pfn);
        if ((word & InlineTag) != 0)
        {
            if (InlinePid(word) != pid || (word & VaMask) != va) return false;
            _frames.SetRmapWord(pfn, 0);
            LiveNodes--;
            return true;
        }
        var prev = 0;
        for (var node = (int)(word >> 1); node != 0; prev = node, node = _next[node])
        {
            if (_pid[node] != pid || _va[node] != va) continue;
            if (prev == 0) _frames.SetRmapWord(pfn, (ulong)_next[node] << 1);
            else _next[prev] = _next[node];
            FreeNode(node);
            LiveNodes--;
            Unspill(pfn);
            return true;
        }
        return false;
    }

    /// <summary>Copies the mappings of a frame into <paramref name="into"/> (callers change mappings while iterating).</summary>
    public void Collect(Pfn pfn, List<RmapEntry> into)
    {
        var word = _frames.RmapWord(pfn);
        if ((word & InlineTag) != 0)
        {
            into.Add(new RmapEntry(InlinePid(word), word & VaMask, (word & InlineHuge) != 0 ? MappingSize.Size2M : MappingSize.Size4K));
            return;
        }
        for (var node = (int)(word >> 1); node != 0; node = _next[node])
            into.Add(new RmapEntry(_pid[node], _va[node], _huge[node] == 1 ? MappingSize.Size2M : MappingSize.Size4K));
    }

    public bool Any(Pfn pfn) => _frames.RmapWord(pfn) != 0;

    /// <summary>The inline word for a mapping, or 0 when its pid or address does not fit (it then takes a node).</summary>
    private static ulong Inline(int pid, ulong va, MappingSize size)
        => (uint)pid < PidLimit && (va & ~VaMask) == 0
            ? InlineTag | (size == MappingSize.Size2M ? InlineHuge : 0) | (ulong)pid << PidShift | va
            : 0;

    private static int InlinePid(ulong word) => (int)(word >> PidShift) & (PidLimit - 1);

    /// <summary>An inline mapping moved into a node, as the tail of the list the next mapping heads.</summary>
    private int Spill(ulong word)
    {
        var node = NewNode(InlinePid(word), word & VaMask, (word & InlineHuge) != 0 ? MappingSize.Size2M : MappingSize.Size4K);
        _next[node] = 0;
        return node;
    }

    /// <summary>A list down to one node that fits inline goes back inline, so a frame's nodes do not outlive its sharing.</summary>
    private void Unspill(Pfn pfn)
    {
        var node = (int)(_frames.RmapWord(pfn) >> 1);
        if (node == 0 || _next[node] != 0) return;
        var inline = Inline(_pid[node], _va[node], _huge[node] == 1 ? MappingSize.Size2M : MappingSize.Size4K);
        if (inline == 0) return;
        _frames.SetRmapWord(pfn, inline);
        FreeNode(node);
    }

    private int NewNode(int pid, ulong va, MappingSize size)
    {
        var node = NewNode();
        _pid[node] = pid;
        _va[node] = va;
        _huge[node] = size == MappingSize.Size2M ? (byte)1 : (byte)0;
        return node;
    }

    private void FreeNode(int node)
    {
        _next[node] = _freeHead;
        _freeHead = node;
    }

    private int NewNode()
    {
        if (_freeHead != 0)
        {
            var node = _freeHead;
            _freeHead = _next[node];
            return node;
        }
        if (_used == _next.Length)
        {
            var size = _next.Length * 2;
            Array.Resize(ref _next, size);
            Array.Resize(ref _pid, size);
            Array.Resize(ref _va, size);
            Array.Resize(ref _huge, size);
        }
        return _used++;
    }

    public long FootprintBytes => _next.Length * (4L + 4 + 8 + 1);
}

internal readonly record struct RmapEntry(int Pid, ulong Va, MappingSize Size);
