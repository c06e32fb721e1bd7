namespace Vmm.Abstractions;

/// <summary>Called for each non-none leaf in a range; return false to stop.</summary>
public delegate bool PageTableVisitor(ulong va, PteValue entry, MappingSize size);

/// <summary>
/// One address space's translations (a host process's page tables, or a VM's EPT): leaves at 4 KiB or
/// 2 MiB. Lookup and Set are the hot path and allocate nothing once the intermediate tables exist.
/// </summary>
public interface IPageTable
{
    /// <summary>The leaf covering <paramref name="va"/> (present, PROT_NONE or swap), or <see cref="PteValue.None"/>.</summary>
    PteValue Lookup(ulong va, out MappingSize size);

    /// <summary>Installs a leaf; a 2 MiB leaf needs a 2 MiB-aligned address and replaces any table below it.</summary>
    void Set(ulong va, PteValue entry, MappingSize size);

    /// <summary>Visits every non-none leaf in [start, end) in address order; cost grows with populated tables only.</summary>
    void Visit(ulong start, ulong end, PageTableVisitor visitor);

    /// <summary>Page-table pages currently allocated (each 4 KiB).</summary>
    long TablePages { get; }

    /// <summary>Table levels touched by the last Lookup (for the ledger: a 4-level walk touches 4).</summary>
    int LastWalkDepth { get; }
}

/// <summary>Creates page tables; the core supplies the x86-64 4-level radix.</summary>
public interface IPageTableFactory
{
    IPageTable Create();
}
