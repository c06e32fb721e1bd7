namespace Vmm.Abstractions;

/// <summary>Hears of every write to a page table's entries, once it is made (a cache of its leaves drops them here).</summary>
public interface IPageTableObserver
{
    /// <summary>Entries covering [va, va + bytes) were written: a leaf set, replaced or cleared (or written with the value it had), or a table below it freed.</summary>
    void OnEntriesChanged(ulong va, ulong bytes);
}

/// <summary>
/// A page table that tells one observer of every write to its entries, from the one place that writes them, so
/// that a cache of its leaves (the host's soft TLB) needs no invalidation of its own at each caller. A table
/// without this contract gets no such cache.
/// </summary>
public interface IObservablePageTable : IPageTable
{
    /// <summary>The observer told of every change, or null; at most one.</summary>
    IPageTableObserver? Observer { get; set; }
}
