using System.Runtime.InteropServices;

namespace Vmm.Core.Machine;

/// <summary>
/// A flat array indexed by pfn (or page index) whose 4096-entry chunks exist only once written. The chunk
/// directory is two-level (a top array of directory pages of up to 4096 chunks, each made on first use), so
/// even 2^34 entries (a 64 TiB host) cost a few KiB until touched. Get/Set are allocation-free after the chunk
/// exists.
/// </summary>
internal sealed class SparseArray<T>
{
    internal const int ChunkShift = 12;
    internal const int ChunkSize = 1 << ChunkShift;
    private const int ChunkMask = ChunkSize - 1;
    private const int DirectoryShift = 12;
    private const int DirectorySize = 1 << DirectoryShift;
    private const int DirectoryMask = DirectorySize - 1;
    private const int TopShift = ChunkShift + DirectoryShift;

    /// <summary>The largest length: 2^36 entries (a top array of 4096 references).</summary>
    public const long MaxLength = 1L << 36;

    private readonly T[]?[]?[] _top;

    public SparseArray(long length)
    {
        if (length is < 0 or > MaxLength)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A sparse array holds 0 to 2^36 entries, not {length}.");
        Length = length;
        _top = new T[]?[]?[(int)((length + (1L << TopShift) - 1) >> TopShift)];
    }

    public long Length { get; }

    /// <summary>The entry at <paramref name="index"/>; default where nothing was written (also past the end).</summary>
    public T Get(ulong index)
    {
        var top = _top;
        var t = index >> TopShift;
        if (t >= (ulong)top.Length) return default!;
        var directory = top[(int)t];
        if (directory is null) return default!;
        var c = (int)(index >> ChunkShift) & DirectoryMask;
        if ((uint)c >= (uint)directory.Length) return default!; // past the end, in the last directory page
        var chunk = directory[c];
        return chunk is null ? default! : chunk[(int)index & ChunkMask];
    }

    public void Set(ulong index, T value)
    {
        CheckIndex(index);
        var directory = _top[(int)(index >> TopShift)];
        if (directory is null)
        {
            if (EqualityComparer<T>.Default.Equals(value, default!)) return;
            directory = NewDirectory(index);
        }
        ref var chunk = ref directory[(int)(index >> ChunkShift) & DirectoryMask];
        if (chunk is null)
        {
            if (EqualityComparer<T>.Default.Equals(value, default!)) return;
            chunk = new T[ChunkSize];
            AllocatedChunks++;
        }
        chunk[(int)index & ChunkMask] = value;
    }

    public ref T GetRef(ulong index)
    {
        CheckIndex(index);
        var directory = _top[(int)(index >> TopShift)] ?? NewDirectory(index);
        ref var chunk = ref directory[(int)(index >> ChunkShift) & DirectoryMask];
        if (chunk is null)
        {
            chunk = new T[ChunkSize];
            AllocatedChunks++;
        }
        return ref chunk[(int)index & ChunkMask];
    }

    public int AllocatedChunks { get; private set; }

    public int AllocatedDirectories { get; private set; }

    /// <summary>Directory pages and chunks <see cref="CollectNonDefaultIndexes"/> has looked at so far (what its cost grows with).</summary>
    public long ScannedBlocks { get; private set; }

    /// <summary>Bytes held by the directories and the allocated chunks (for the memory-per-frame report).</summary>
    public long FootprintBytes(int elementSize)
        => ((long)_top.Length + _directorySlots) * IntPtr.Size + (long)AllocatedChunks * ChunkSize * elementSize;

    /// <summary>
    /// Appends the indexes of non-default entries in [start, end) to <paramref name="into"/>, ascending.
    /// Missing directory pages and chunks are skipped whole: the cost grows with the populated chunks, not
    /// with the range, and nothing is allocated beyond the list's growth.
    /// </summary>
    public void CollectNonDefaultIndexes(ulong start, ulong end, List<ulong> into)
    {
        end = Math.Min(end, (ulong)Length);
        if (start >= end) return;
        var comparer = EqualityComparer<T>.Default;
        var lastTop = (end - 1) >> TopShift;
        for (var t = start >> TopShift; t <= lastTop; t++)
        {
            var directory = _top[(int)t];
            ScannedBlocks++;
            if (directory is null) continue;
            var topBase = t << TopShift;
            var firstChunk = start > topBase ? (int)((start - topBase) >> ChunkShift) : 0;
            var lastChunk = (int)Math.Min((ulong)directory.Length - 1, (end - 1 - topBase) >> ChunkShift);
            for (var c = firstChunk; c <= lastChunk; c++)
            {
                var chunk = directory[c];
                if (chunk is null) continue;
                ScannedBlocks++;
                var chunkBase = topBase + ((ulong)c << ChunkShift);
                var from = (int)(Math.Max(start, chunkBase) - chunkBase);
                var to = (int)(Math.Min(end, chunkBase + ChunkSize) - chunkBase);
                for (var i = from; i < to; i++)
                    if (!comparer.Equals(chunk[i], default!)) into.Add(chunkBase + (ulong)i);
            }
        }
    }

    /// <summary>The indexes of non-default entries in [start, end), ascending (see <see cref="CollectNonDefaultIndexes"/>).</summary>
    public List<ulong> NonDefaultIndexes(ulong start, ulong end)
    {
        var indexes = new List<ulong>();
        CollectNonDefaultIndexes(start, end, indexes);
        return indexes;
    }

    private void CheckIndex(ulong index)
    {
        if (index >= (ulong)Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Index 0x{index:x} is past the end of a sparse array of 0x{Length:x} entries.");
    }

    private T[]?[] NewDirectory(ulong index)
    {
        // The last directory page holds only the chunks left, so a small array's directory stays small.
        var topBase = (long)(index >> TopShift) << TopShift;
        var directory = new T[]?[(int)Math.Min(DirectorySize, (Length - topBase + ChunkSize - 1) >> ChunkShift)];
        _top[(int)(index >> TopShift)] = directory;
        AllocatedDirectories++;
        _directorySlots += directory.Length;
        return directory;
    }

    private long _directorySlots;
}

/// <summary>
/// A 40-bit unsigned value in 5 bytes: page-cache slots and file page indexes, which must hold any pfn or
/// page index below 2^34 (64 TiB) without the 8 bytes of a ulong.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal readonly struct UInt40 : IEquatable<UInt40>
{
    public const ulong MaxValue = (1UL << 40) - 1;

    private readonly uint _low;
    private readonly byte _high;

    public UInt40(ulong value)
    {
        if (value > MaxValue) throw new ArgumentOutOfRangeException(nameof(value), value, $"0x{value:x} does not fit in 40 bits.");
        _low = (uint)value;
        _high = (byte)(value >> 32);
    }

    public ulong Value => _low | ((ulong)_high << 32);

    public bool Equals(UInt40 other) => _low == other._low && _high == other._high;
    public override bool Equals(object? obj) => obj is UInt40 other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_low, _high);
}
