using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace MyVmmPlugin;

/// <summary>The plugin's entry point: vmm finds this public class through plugins.json and registers its component.</summary>
public sealed class MyVmmPluginPlugin : IVmmPlugin
{
    public string Name => "MyVmmPlugin";

    public void ConfigureServices(IServiceCollection services)
    {
#if (isPolicy)
        services.AddVmmComponent<IPrivateMemoryPolicy, MyVmmPluginPolicy>(ComponentKind.Policy, "myvmmplugin",
            "A protected VM's memory is PROT_NONE in the VMM; KVM still maps it for the guest");
#endif
#if (isFaults)
        services.AddVmmComponent<IFaultDelivery, MyVmmPluginFaultDelivery>(ComponentKind.Faults, "myvmmplugin",
            "Every memory-error SIGBUS on a vCPU thread becomes a vMCE in the guest; the rest as Linux delivers it");
#endif
#if (isWorkload)
        services.AddVmmComponent<IWorkload, MyVmmPluginWorkload, MyVmmPluginWorkloadOptions>(ComponentKind.Workload, "myvmmplugin",
            "The guest writes secrets into a few pages and reads them back");
#endif
    }
}
