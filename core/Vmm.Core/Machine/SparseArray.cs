using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vmm.Core.Machine;

/// <summary>
/// A flat array indexed by pfn (or page index) whose chunks (4096 entries unless the constructor says fewer) exist
/// only once written. The chunk directory is two-level (a top array of directory pages of up to 4096 chunks, each
/// made on first use), so even 2^34 entries (a 64 TiB host) cost a few KiB until touched. Get/Set are
/// allocation-free after the chunk exists.
/// </summary>
internal sealed class SparseArray<T>
{
    internal const int ChunkShift = 12;
    internal const int ChunkSize = 1 << ChunkShift;
    private const int DirectoryShift = 12;
    private const int DirectorySize = 1 << DirectoryShift;
    private const int DirectoryMask = DirectorySize - 1;

    /// <summary>The largest length: 2^36 entries (a top array of 4096 references) with 4096-entry chunks.</summary>
    public const long MaxLength = 1L << 36;

    private readonly T[]?[]?[] _top;
    private readonly int _chunkShift;
    private readonly int _chunkMask;
    private readonly int _topShift;

    /// <param name="chunkShift">log2 of the entries per chunk: smaller chunks waste less where few entries are written, at one directory slot per chunk.</param>
    public SparseArray(long length, int chunkShift = ChunkShift)
    {
        if (chunkShift is < 6 or > ChunkShift)
            throw new ArgumentOutOfRangeException(nameof(chunkShift), chunkShift, "A sparse array's chunks hold 2^6 to 2^12 entries.");
        var maxLength = MaxLength >> (ChunkShift - chunkShift);
        if (length < 0 || length > maxLength)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A sparse array of 2^{chunkShift}-entry chunks holds 0 to 2^{chunkShift + 24} entries, not {length}.");
        Length = length;
        _chunkShift = chunkShift;
        _chunkMask = (1 << chunkShift) - 1;
        _topShift = chunkShift + DirectoryShift;
        _top = new T[]?[]?[(int)((length + (1L << _topShift) - 1) >> _topShift)];
    }

    /// <summary>Entries per chunk.</summary>
    public int ChunkLength => 1 << _chunkShift;

    public long Length { get; }

    /// <summary>The entry at <paramref name="index"/>; default where nothing was written (also past the end).</summary>
    public T Get(ulong index)
    {
        var top = _top;
        var t = index >> _topShift;
        if (t >= (ulong)top.Length) return default!;
        var directory = top[(int)t];
        if (directory is null) return default!;
        var c = (int)(index >> _chunkShift) & DirectoryMask;
        if ((uint)c >= (uint)directory.Length) return default!; // past the end, in the last directory page
        var chunk = directory[c];
        return chunk is null ? default! : chunk[(int)index & _chunkMask];
    }

    public void Set(ulong index, T value)
    {
        CheckIndex(index);
        var directory = _top[(int)(index >> _topShift)];
        if (directory is null)
        {
            if (EqualityComparer<T>.Default.Equals(value, default!)) return;
            directory = NewDirectory(index);
        }
        ref var chunk = ref directory[(int)(index >> _chunkShift) & DirectoryMask];
        if (chunk is null)
        {
            if (EqualityComparer<T>.Default.Equals(value, default!)) return;
            chunk = new T[1 << _chunkShift];
            AllocatedChunks++;
        }
        chunk[(int)index & _chunkMask] = value;
    }

    public ref T GetRef(ulong index)
    {
        CheckIndex(index);
        var directory = _top[(int)(index >> _topShift)] ?? NewDirectory(index);
        ref var chunk = ref directory[(int)(index >> _chunkShift) & DirectoryMask];
        if (chunk is null)
        {
            chunk = new T[1 << _chunkShift];
            AllocatedChunks++;
        }
        return ref chunk[(int)index & _chunkMask];
    }

    /// <summary>The entry's storage if its chunk exists, else a null reference (<see cref="Unsafe.IsNullRef{T}(ref readonly T)"/>): writing a default value there needs no chunk.</summary>
    public ref T GetRefIfPresent(ulong index)
    {
        var top = _top;
        var t = index >> _topShift;
        if (t >= (ulong)top.Length) return ref Unsafe.NullRef<T>();
        var directory = top[(int)t];
        if (directory is null) return ref Unsafe.NullRef<T>();
        var c = (int)(index >> _chunkShift) & DirectoryMask;
        if ((uint)c >= (uint)directory.Length) return ref Unsafe.NullRef<T>();
        var chunk = directory[c];
        if (chunk is null) return ref Unsafe.NullRef<T>();
        return ref chunk[(int)index & _chunkMask];
    }

    public int AllocatedChunks { get; private set; }

    public int AllocatedDirectories { get; private set; }

    /// <summary>Directory pages and chunks <see cref="CollectNonDefaultIndexes"/> has looked at so far (what its cost grows with).</summary>
    public long ScannedBlocks { get; private set; }

    /// <summary>Bytes held by the directories and the allocated chunks (for the memory-per-frame report).</summary>
    public long FootprintBytes(int elementSize)
        => ((long)_top.Length + _directorySlots) * IntPtr.Size + (long)AllocatedChunks * (1 << _chunkShift) * elementSize;

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
        var lastTop = (end - 1) >> _topShift;
        for (var t = start >> _topShift; t <= lastTop; t++)
        {
            var directory = _top[(int)t];
            ScannedBlocks++;
            if (directory is null) continue;
            var topBase = t << _topShift;
            var firstChunk = start > topBase ? (int)((start - topBase) >> _chunkShift) : 0;
            var lastChunk = (int)Math.Min((ulong)directory.Length - 1, (end - 1 - topBase) >> _chunkShift);
            for (var c = firstChunk; c <= lastChunk; c++)
            {
                var chunk = directory[c];
                if (chunk is null) continue;
                ScannedBlocks++;
                var chunkBase = topBase + ((ulong)c << _chunkShift);
                var from = (int)(Math.Max(start, chunkBase) - chunkBase);
                var to = (int)(Math.Min(end, chunkBase + (ulong)ChunkLength) - chunkBase);
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
        var topBase = (long)(index >> _topShift) << _topShift;
        var directory = new T[]?[(int)Math.Min(DirectorySize, (Length - topBase + (1 << _chunkShift) - 1) >> _chunkShift)];
        _top[(int)(index >> _topShift)] = directory;
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
