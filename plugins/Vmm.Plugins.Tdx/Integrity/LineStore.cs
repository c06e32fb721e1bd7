using System.Runtime.CompilerServices;
using Vmm.Abstractions;

namespace Vmm.Plugins.Tdx.Integrity;

/// <summary>
/// Per-line integrity state of the frames that have some (a non-zero KeyID, an owner bit or poison), in
/// slots of pooled flat arrays: per slot a 64-bit TD-owner mask, a 64-bit poison mask and one KeyID word
/// (the KeyID every line was last written with, or a reference to a row of 64 KeyIDs when the lines differ);
/// with MACs, 64 28-bit MACs per slot. A pfn finds its slot through a three-level index (as core's sparse
/// arrays: top, directory pages, chunks of 4096 entries, each made on first use), so the hot path does no
/// hashing, an untracked frame costs nothing, and a frame high in a 64 TiB host costs a few KiB, not a
/// top array reaching up to it. Slot -1 stands for an untracked frame: all zeros.
/// </summary>
internal sealed class LineStore
{
    public const int None = -1;
    private const int Lines = PageGeometry.LinesPerPage;
    private const int IndexShift = 12;
    private const int IndexChunk = 1 << IndexShift;
    private const int DirectoryShift = 12;
    private const int DirectorySize = 1 << DirectoryShift;
    private const int TopShift = IndexShift + DirectoryShift;
    /// <summary>2^34 pfns: the frame table's limit (a 64 TiB host).</summary>
    private const ulong MaxPfns = 1UL << 34;
    private const int SlotShift = 10;
    private const int SlotChunk = 1 << SlotShift;
    private const int SlotMask = SlotChunk - 1;

    // pfn -> slot + 1 (0: untracked).
    private readonly int[]?[]?[] _index = new int[]?[]?[MaxPfns >> TopShift];
    private int _indexChunks;
    private int _directories;
    // Per slot its owner mask, poison mask and KeyID word side by side, so a read finds all three in one cache line.
    private SlotState[][] _state = [];
    private uint[][] _macs = [];
    private ushort[][] _mixed = [];
    private readonly bool _withMacs;
    private readonly Stack<int> _freeSlots = new();
    private readonly Stack<int> _freeRows = new();
    private int _slots;
    private int _rows;

    public LineStore(bool withMacs) => _withMacs = withMacs;

    // Packed to 20 bytes, the three fields' own size: a slot costs what it did as three arrays.
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Pack = 4)]
    private struct SlotState
    {
        public ulong Owner;
        public ulong Poison;
        /// <summary>&gt;= 0: the KeyID of all 64 lines; &lt; 0: ~row of _mixed, whose 64 entries hold each line's KeyID.</summary>
        public int Key;
    }

    private ref SlotState State(int slot) => ref _state[slot >> SlotShift][slot & SlotMask];

    /// <summary>Frames that hold a slot.</summary>
    public int Count { get; private set; }

    /// <summary>Frames whose lines hold different KeyIDs (each costs a row of 64).</summary>
    public int MixedRows => _rows - _freeRows.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Find(Pfn pfn)
    {
        var top = pfn.Value >> TopShift;
        var index = _index;
        if (top >= (ulong)index.Length) return None;
        var directory = index[(int)top];
        if (directory is null) return None;
        var chunk = directory[(int)(pfn.Value >> IndexShift) & (DirectorySize - 1)];
        return chunk is null ? None : chunk[(int)(pfn.Value & (IndexChunk - 1))] - 1;
    }

    public int GetOrAdd(Pfn pfn)
    {
        var slot = Find(pfn);
        if (slot != None) return slot;
        slot = _freeSlots.Count > 0 ? _freeSlots.Pop() : NewSlot();
        IndexChunkOf(pfn)[(int)(pfn.Value & (IndexChunk - 1))] = slot + 1;
        Count++;
        return slot;
    }

    public void Remove(Pfn pfn)
    {
        var slot = Find(pfn);
        if (slot == None) return;
        IndexChunkOf(pfn)[(int)(pfn.Value & (IndexChunk - 1))] = 0;
        SetAllKeys(slot, 0);
        Owner(slot) = 0;
        Poison(slot) = 0;
        if (_withMacs) _macs[slot >> SlotShift].AsSpan((slot & SlotMask) * Lines, Lines).Clear();
        _freeSlots.Push(slot);
        Count--;
    }

    public ref ulong Owner(int slot) => ref State(slot).Owner;

    public ref ulong Poison(int slot) => ref State(slot).Poison;

    /// <summary>A tracked slot's owner and poison masks and the KeyID line <paramref name="line"/> was last written with, in one lookup.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Read(int slot, int line, out ulong owner, out ulong poison, out ushort key)
    {
        ref var state = ref State(slot);
        owner = state.Owner;
        poison = state.Poison;
        key = state.Key >= 0 ? (ushort)state.Key : _mixed[~state.Key >> SlotShift][(~state.Key & SlotMask) * Lines + line];
    }

    public ref uint Mac(int slot, int line) => ref _macs[slot >> SlotShift][(slot & SlotMask) * Lines + line];

    public ushort KeyOf(int slot, int line)
    {
        if (slot == None) return 0;
        var key = State(slot).Key;
        return key >= 0 ? (ushort)key : _mixed[~key >> SlotShift][(~key & SlotMask) * Lines + line];
    }

    public void SetKey(int slot, int line, ushort value)
    {
        ref var key = ref State(slot).Key;
        if (key == value) return;
        if (key >= 0)
        {
            var row = _freeRows.Count > 0 ? _freeRows.Pop() : NewRow();
            _mixed[row >> SlotShift].AsSpan((row & SlotMask) * Lines, Lines).Fill((ushort)key);
            key = ~row;
        }
        _mixed[~key >> SlotShift][(~key & SlotMask) * Lines + line] = value;
    }

    public void SetAllKeys(int slot, ushort value)
    {
        ref var key = ref State(slot).Key;
        if (key < 0) _freeRows.Push(~key);
        key = value;
    }

    /// <summary>True when nothing distinguishes the frame from plain memory.</summary>
    public bool IsPlain(int slot)
    {
        ref var state = ref State(slot);
        if (state.Owner != 0 || state.Poison != 0) return false;
        var key = state.Key;
        if (key >= 0) return key == 0;
        return !_mixed[~key >> SlotShift].AsSpan((~key & SlotMask) * Lines, Lines).ContainsAnyExcept((ushort)0);
    }

    private int[] IndexChunkOf(Pfn pfn)
    {
        if (pfn.Value >= MaxPfns) throw new ArgumentOutOfRangeException(nameof(pfn), pfn.Value, "A host has at most 2^34 frames.");
        ref var directory = ref _index[(int)(pfn.Value >> TopShift)];
        if (directory is null)
        {
            directory = new int[]?[DirectorySize];
            _directories++;
        }
        ref var chunk = ref directory[(int)(pfn.Value >> IndexShift) & (DirectorySize - 1)];
        if (chunk is null)
        {
            chunk = new int[IndexChunk];
            _indexChunks++;
        }
        return chunk;
    }

    private int NewSlot()
    {
        if ((_slots & SlotMask) == 0)
        {
            var chunk = _slots >> SlotShift;
            Grow(ref _state, chunk, SlotChunk);
            if (_withMacs) Grow(ref _macs, chunk, SlotChunk * Lines);
        }
        return _slots++;
    }

    private int NewRow()
    {
        if ((_rows & SlotMask) == 0) Grow(ref _mixed, _rows >> SlotShift, SlotChunk * Lines);
        return _rows++;
    }

    private static void Grow<T>(ref T[][] chunks, int chunk, int length)
    {
        if (chunk >= chunks.Length) Array.Resize(ref chunks, Math.Max(4, chunks.Length * 2));
        chunks[chunk] = new T[length];
    }

    /// <summary>Bytes held by the index, the slots and the rows (for the memory-per-frame report).</summary>
    public long FootprintBytes
    {
        get
        {
            var bytes = ((long)_index.Length + (long)_directories * DirectorySize) * IntPtr.Size + (long)_indexChunks * IndexChunk * sizeof(int);
            var slotChunks = (_slots + SlotMask) >> SlotShift;
            bytes += (long)slotChunks * SlotChunk * (Unsafe.SizeOf<SlotState>() + (_withMacs ? Lines * sizeof(uint) : 0));
            bytes += (long)((_rows + SlotMask) >> SlotShift) * SlotChunk * Lines * sizeof(ushort);
            return bytes;
        }
    }
}
