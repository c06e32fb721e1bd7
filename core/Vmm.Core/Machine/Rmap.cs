using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// Reverse map pfn → (process, virtual address, size) of every host mapping, as the kernel's anon_vma and
/// i_mmap walks give try_to_unmap. Nodes live in a pooled array with a free list: adding and removing a
/// mapping allocates nothing once the pool has grown.
/// </summary>
internal sealed class Rmap
{
    private readonly FrameTable _frames;
    private int[] _next = new int[256];
    private int[] _pid = new int[256];
    private ulong[] _va = new ulong[256];
    private byte[] _huge = new byte[256];
    private int _used = 1; // node 0 means "none"
    private int _freeHead;

    public Rmap(FrameTable frames) => _frames = frames;

    public int LiveNodes { get; private set; }

    public void Add(Pfn pfn, int pid, ulong va, MappingSize size)
    {
        var node = NewNode();
        _pid[node] = pid;
        _va[node] = va;
        _huge[node] = size == MappingSize.Size2M ? (byte)1 : (byte)0;
        _next[node] = _frames.RmapHead(pfn);
        _frames.SetRmapHead(pfn, node);
        LiveNodes++;
    }

    public bool Remove(Pfn pfn, int pid, ulong va)
    {
        var prev = 0;
        for (var node = _frames.RmapHead(pfn); node != 0; prev = node, node = _next[node])
        {
            if (_pid[node] != pid || _va[node] != va) continue;
            if (prev == 0) _frames.SetRmapHead(pfn, _next[node]);
            else _next[prev] = _next[node];
            _next[node] = _freeHead;
            _freeHead = node;
            LiveNodes--;
            return true;
        }
        return false;
    }

    /// <summary>Copies the mappings of a frame into <paramref name="into"/> (callers change mappings while iterating).</summary>
    public void Collect(Pfn pfn, List<RmapEntry> into)
    {
        for (var node = _frames.RmapHead(pfn); node != 0; node = _next[node])
            into.Add(new RmapEntry(_pid[node], _va[node], _huge[node] == 1 ? MappingSize.Size2M : MappingSize.Size4K));
    }

    public bool Any(Pfn pfn) => _frames.RmapHead(pfn) != 0;

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
