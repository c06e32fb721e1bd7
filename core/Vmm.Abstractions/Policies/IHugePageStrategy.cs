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

    /// <summary>Aligned 4 KiB pages that become private together once <see cref="PrepareSubpage"/> said yes: 1, or 512 when the strategy treats the 2 MiB as one unit (T3).</summary>
    int PrivateUnitPages(VmInfo vm) => 1;

    /// <summary>The guest converted [hva, hva + bytes) to shared and the policy has acted on it: a strategy may map ranges huge again.</summary>
    void OnShared(VmInfo vm, Hva hva, ulong bytes)
    {
    }
}
