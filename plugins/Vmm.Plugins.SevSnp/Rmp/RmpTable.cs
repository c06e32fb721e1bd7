using System.Runtime.CompilerServices;
using Vmm.Abstractions;

namespace Vmm.Plugins.SevSnp.Rmp;

/// <summary>
/// The Reverse Map Table (AMD APM vol. 2, 15.36.3): one entry per 4 KiB frame, packed in one 64-bit word
/// (assigned, validated, immutable, 2 MiB page size, a 12-bit ASID, the 48-bit gfn it is assigned at). Entries
/// live in chunks of 512 (one 2 MiB-aligned run of frames, the unit of a 2 MiB entry and of PSMASH), made on first
/// use and pooled when their last entry returns to the hypervisor; a pfn finds its chunk through a two-level
/// index, so an untouched frame costs nothing and the hot path does no hashing. 8 bytes per frame of a touched chunk.
/// </summary>
internal sealed class RmpTable
{
    private const ulong Assigned = 1;
    private const ulong Validated = 2;
    private const ulong Immutable = 4;
    private const ulong Huge = 8;
    private const int AsidShift = 4;
    private const ulong AsidMask = 0xfff;
    private const int GfnShift = 16;
    private const int ChunkShift = PageGeometry.HugeShift - PageGeometry.PageShift;
    private const int ChunkSize = 1 << ChunkShift;
    private const int DirectoryShift = 13;
    private const int DirectorySize = 1 << DirectoryShift;
    /// <summary>2^34 pfns: the frame table's limit (a 64 TiB host).</summary>
    private const ulong MaxPfns = 1UL << 34;

    // pfn >> 9 -> chunk; each chunk: 512 entry words and, in its last slot of _assigned, how many are assigned.
    private readonly ulong[]?[]?[] _index = new ulong[]?[]?[(MaxPfns >> ChunkShift) >> DirectoryShift];
    private readonly Dictionary<ulong[], int> _assignedCounts = new(ReferenceEqualityComparer.Instance);
    private readonly Stack<ulong[]> _pool = new();

    /// <summary>Chunks in use (each 4 KiB): the table's footprint grows with the 2 MiB ranges guests touched.</summary>
    public int Chunks => _assignedCounts.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RmpEntry Get(Pfn pfn)
    {
        var chunk = Find(pfn);
        return new RmpEntry(chunk is null ? 0 : chunk[(int)(pfn.Value & (ChunkSize - 1))]);
    }

    /// <summary>Whether any frame of the 2 MiB-aligned run holding <paramref name="pfn"/> is assigned.</summary>
    public bool AnyAssignedAround(Pfn pfn) => Find(pfn) is { } chunk && _assignedCounts[chunk] > 0;

    /// <summary>RMPUPDATE of one 4 KiB entry: assigned to <paramref name="asid"/> at <paramref name="gfn"/>.</summary>
    public void Assign(Pfn pfn, ushort asid, Gfn gfn, bool validated, bool huge)
    {
        var chunk = FindOrAdd(pfn);
        ref var word = ref chunk[(int)(pfn.Value & (ChunkSize - 1))];
        if ((word & Assigned) == 0) _assignedCounts[chunk]++;
        word = Assigned | (validated ? Validated : 0) | (huge ? Huge : 0) | ((ulong)(asid & AsidMask) << AsidShift) | (gfn.Value << GfnShift);
    }

    /// <summary>RMPUPDATE back to the hypervisor: the entry is cleared (validated with it).</summary>
    public void Return(Pfn pfn)
    {
        var chunk = Find(pfn);
        if (chunk is null) return;
        ref var word = ref chunk[(int)(pfn.Value & (ChunkSize - 1))];
        if ((word & Assigned) == 0) return;
        word = 0;
        if (--_assignedCounts[chunk] == 0) Release(pfn, chunk);
    }

    /// <summary>Marks a page the SNP firmware owns (its context and metadata pages): RMPUPDATE on it fails.</summary>
    public void SetImmutable(Pfn pfn)
    {
        var chunk = FindOrAdd(pfn);
        ref var word = ref chunk[(int)(pfn.Value & (ChunkSize - 1))];
        if ((word & Assigned) == 0) _assignedCounts[chunk]++;
        word |= Assigned | Immutable;
    }

    /// <summary>
    /// PSMASH: the 2 MiB entry covering <paramref name="pfn"/> becomes 512 4 KiB entries that keep assigned, ASID,
    /// gpa and validated. False when the run held no 2 MiB entry.
    /// </summary>
    public bool Smash(Pfn pfn)
    {
        var chunk = Find(pfn);
        if (chunk is null || (chunk[(int)(pfn.Value & (ChunkSize - 1))] & Huge) == 0) return false;
        for (var i = 0; i < ChunkSize; i++) chunk[i] &= ~Huge;
        return true;
    }

    private ulong[]? Find(Pfn pfn)
    {
        var run = pfn.Value >> ChunkShift;
        var top = run >> DirectoryShift;
        if (top >= (ulong)_index.Length) return null;
        return _index[top]?[(int)(run & (DirectorySize - 1))];
    }

    private ulong[] FindOrAdd(Pfn pfn)
    {
        if (Find(pfn) is { } found) return found;
        var run = pfn.Value >> ChunkShift;
        if (pfn.Value >= MaxPfns) throw new ArgumentOutOfRangeException(nameof(pfn), pfn, "pfn beyond the RMP (a 64 TiB host)");
        var directory = _index[run >> DirectoryShift] ??= new ulong[]?[DirectorySize];
        var chunk = _pool.Count > 0 ? _pool.Pop() : new ulong[ChunkSize];
        directory[(int)(run & (DirectorySize - 1))] = chunk;
        _assignedCounts[chunk] = 0;
        return chunk;
    }

    private void Release(Pfn pfn, ulong[] chunk)
    {
        var run = pfn.Value >> ChunkShift;
        Array.Clear(chunk);
        _index[run >> DirectoryShift]![(int)(run & (DirectorySize - 1))] = null;
        _assignedCounts.Remove(chunk);
        _pool.Push(chunk);
    }

    /// <summary>One RMP entry, decoded.</summary>
    public readonly record struct RmpEntry(ulong Word)
    {
        public bool IsAssigned => (Word & Assigned) != 0;
        public bool IsValidated => (Word & Validated) != 0;
        public bool IsImmutable => (Word & Immutable) != 0;
        public bool IsHuge => (Word & Huge) != 0;
        public ushort Asid => (ushort)((Word >> AsidShift) & AsidMask);
        public Gfn Gfn => new(Word >> GfnShift);
    }
}
