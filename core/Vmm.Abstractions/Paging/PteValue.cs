namespace Vmm.Abstractions;

/// <summary>Swap types of non-present entries, numbered as in Linux v5.16 include/linux/swap.h (MAX_SWAPFILES = 25).</summary>
public enum SwapType : byte
{
    /// <summary>SWP_HWPOISON = MAX_SWAPFILES.</summary>
    HwPoison = 25,
    /// <summary>SWP_MIGRATION_READ.</summary>
    MigrationRead = 26,
    /// <summary>SWP_MIGRATION_WRITE.</summary>
    MigrationWrite = 27,
}

public enum MappingSize : byte
{
    Size4K = PageGeometry.PageShift,
    Size2M = PageGeometry.HugeShift,
}

/// <summary>
/// A 64-bit x86-64 page-table entry in the hardware layout (arch/x86/include/asm/pgtable_types.h):
/// P=0, RW=1, US=2, A=5, D=6, PS=7, G=8, PFN in 12..51, NX=63. A non-present entry with bit 8 set is
/// PROT_NONE; any other non-zero non-present entry is a swap entry encoded as in pgtable_64.h
/// (type in bits 59..63, offset inverted from bit 14: the L1TF mitigation).
/// </summary>
public readonly record struct PteValue(ulong Raw)
{
    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;
    public const ulong PageSizeBit = 1UL << 7;
    public const ulong Global = 1UL << 8;
    /// <summary>_PAGE_PROTNONE aliases _PAGE_GLOBAL on a non-present entry.</summary>
    public const ulong ProtNone = Global;
    public const ulong NoExecute = 1UL << 63;
    public const ulong PfnMask = 0x000F_FFFF_FFFF_F000UL;

    private const int SwpTypeBits = 5;
    private const int SwpOffsetShift = 9 + SwpTypeBits; // SWP_OFFSET_FIRST_BIT (_PAGE_BIT_PROTNONE + 1) + SWP_TYPE_BITS

    public static readonly PteValue None = new(0);

    public bool IsNone => Raw == 0;
    public bool IsPresent => (Raw & Present) != 0;
    public bool IsWritable => (Raw & Writable) != 0;
    public bool IsUser => (Raw & User) != 0;
    public bool IsHuge => (Raw & PageSizeBit) != 0;
    public bool IsDirty => (Raw & Dirty) != 0;
    public bool IsNoExecute => (Raw & NoExecute) != 0;
    public bool IsProtNone => !IsPresent && (Raw & ProtNone) != 0;
    /// <summary>Present or PROT_NONE entries point at a frame; swap entries do not (they encode one in the offset).</summary>
    public bool MapsFrame => IsPresent || IsProtNone;
    public bool IsSwap => Raw != 0 && !IsPresent && !IsProtNone;
    public Pfn Pfn => new((Raw & PfnMask) >> PageGeometry.PageShift);

    public SwapType SwapType => (SwapType)(Raw >> (64 - SwpTypeBits));
    public ulong SwapOffset => ~Raw << SwpTypeBits >> SwpOffsetShift;
    public bool IsHwPoison => IsSwap && SwapType == SwapType.HwPoison;
    public bool IsMigration => IsSwap && SwapType is SwapType.MigrationRead or SwapType.MigrationWrite;
    /// <summary>The frame a hwpoison or migration entry refers to (make_hwpoison_entry encodes the pfn as the offset).</summary>
    public Pfn SwapPfn => new(SwapOffset);

    /// <summary>A present leaf mapping a frame (user, NX as for data).</summary>
    public static PteValue Leaf(Pfn pfn, bool writable, MappingSize size = MappingSize.Size4K)
        => new(((pfn.Value << PageGeometry.PageShift) & PfnMask) | Present | User | Accessed | NoExecute
               | (writable ? Writable : 0) | (size == MappingSize.Size2M ? PageSizeBit : 0));

    /// <summary>A PROT_NONE entry: the frame stays referenced but every user access faults.</summary>
    public static PteValue ProtNoneLeaf(Pfn pfn, MappingSize size = MappingSize.Size4K)
        => new(((pfn.Value << PageGeometry.PageShift) & PfnMask) | ProtNone | (size == MappingSize.Size2M ? PageSizeBit : 0));

    /// <summary>__swp_entry(type, offset) then __swp_entry_to_pte.</summary>
    public static PteValue SwapEntry(SwapType type, ulong offset)
        => new((~offset << SwpOffsetShift >> SwpTypeBits) | ((ulong)type << (64 - SwpTypeBits)));

    /// <summary>swp_entry_to_pte(make_hwpoison_entry(page)).</summary>
    public static PteValue HwPoisonEntry(Pfn pfn) => SwapEntry(SwapType.HwPoison, pfn.Value);

    public static PteValue MigrationEntry(Pfn pfn, bool write) => SwapEntry(write ? SwapType.MigrationWrite : SwapType.MigrationRead, pfn.Value);

    public PteValue WithWritable(bool writable) => new(writable ? Raw | Writable : Raw & ~Writable);
    public PteValue WithDirty() => new(Raw | Dirty);

    public override string ToString()
    {
        if (IsNone) return "none";
        if (IsSwap) return $"swp({SwapType},0x{SwapOffset:x})";
        return $"{(IsPresent ? "P" : "protnone")} {(IsWritable ? "RW" : "RO")}{(IsHuge ? " PS" : "")} {Pfn}";
    }
}
