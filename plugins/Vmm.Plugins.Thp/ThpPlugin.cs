using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Plugins.Thp.NoThp;
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
    }
}
