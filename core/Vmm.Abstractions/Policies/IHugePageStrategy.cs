namespace Vmm.Abstractions;

/// <summary>
/// What happens to a 2 MiB mapping when part of it becomes private, poisoned or shared (docs/semantics.md
/// table T). Policies call it; it uses the kernel's THP mechanisms (<see cref="IThpMechanics"/>) handed to its constructor.
/// </summary>
public interface IHugePageStrategy
{
    /// <summary>Whether the VMM may map this VM's memory with 2 MiB leaves.</summary>
    bool AllowHugeMapping(VmInfo vm);

    /// <summary>The 4 KiB frame at <paramref name="hva"/> inside a 2 MiB VMM mapping is about to become private or poisoned; true when the caller may go on.</summary>
    bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn);
}
