using Vmm.Abstractions;
using Vmm.Plugins.Thp.Split;

namespace Vmm.Plugins.Thp.NoThp;

/// <summary>
/// T2: a protected VM's memory is never mapped huge in the VMM (as MADV_NOHUGEPAGE would do), so
/// conversions never split; other VMs keep THP. A THP that MADV_HUGEPAGE still made is split as in T1.
/// </summary>
public sealed class NoThpStrategy(IThpMechanics thp, IKernelLog log) : IHugePageStrategy
{
    public bool AllowHugeMapping(VmInfo vm) => !vm.Protected;

    public bool PrepareSubpage(VmInfo vm, Hva hva, Pfn pfn) => ThpSplitting.SplitFor(thp, log, "no-thp", vm, hva, pfn);
}
