using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Plugins.Thp.LazySplit;
using Vmm.Plugins.Thp.NoThp;
using Vmm.Plugins.Thp.PmdPoison;
using Vmm.Plugins.Thp.Split;

namespace Vmm.Plugins.Thp;

/// <summary>What happens to a 2 MiB mapping when part of it becomes private or poisoned (docs/semantics.md table T).</summary>
public sealed class ThpPlugin : IVmmPlugin
{
    public string Name => "Thp";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IHugePageStrategy, SplitStrategy>(ComponentKind.Thp, "split",
            "T1: split the THP so the one 4 KiB page can be made private; a pinned THP cannot be split and the conversion fails (K16).",
            run => new SplitStrategy(run.GetRequiredService<IThpMechanics>(), run.GetRequiredService<IKernelLog>()));
        services.AddVmmComponent<IHugePageStrategy, NoThpStrategy>(ComponentKind.Thp, "no-thp",
            "T2: protected VMs are never mapped huge in the VMM, so conversions never split.",
            run => new NoThpStrategy(run.GetRequiredService<IThpMechanics>(), run.GetRequiredService<IKernelLog>()));
        services.AddVmmComponent<IHugePageStrategy, PmdPoisonStrategy>(ComponentKind.Thp, "pmd-poison",
            "T3: the 2 MiB is one unit: its first private page clears the PMD for a PMD hwpoison marker and all 512 frames become private; VMM faults report lsb 21.",
            run => new PmdPoisonStrategy(run.GetRequiredService<IThpMechanics>(), run.GetRequiredService<IHugePmdMechanics>(), run.GetRequiredService<IKernelLog>()));
        services.AddVmmComponent<IHugePageStrategy, LazySplitStrategy>(ComponentKind.Thp, "lazy-split",
            "T4: split only the PMD (a pin does not stop it) on the first private page, and re-install the PMD without a copy once the range is wholly shared again.",
            run => new LazySplitStrategy(run.GetRequiredService<IThpMechanics>(), run.GetRequiredService<IHugePmdMechanics>(), run.GetRequiredService<IFrameMetadata>(),
                run.GetRequiredService<IVmmControl>(), run.GetRequiredService<IKernelLog>()));
    }
}
