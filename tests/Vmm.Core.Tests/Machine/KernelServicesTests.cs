using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Baseline;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.Baseline.Plain;

namespace Vmm.Core.Tests.Machine;

/// <summary>The kernel services a run's components take in their constructors from the run scope.</summary>
public class KernelServicesTests
{
    /// <summary>Takes two services from the run scope and reports through them on every guest fault.</summary>
    public sealed class ReportingPolicy(IFrameMetadata frames, IKernelLog log) : IPrivateMemoryPolicy, IGuestFaultPolicy
    {
        public GuestFaultAction OnGuestFault(GuestFault fault)
        {
            log.Warn($"fault gfn 0x{fault.Gfn.Value:x} in use {(frames.GetFlags(fault.Pfn) & FrameFlags.InUse) != 0}");
            return GuestFaultAction.Map;
        }
    }

    private const string Scenario = """
        {
          "name": "services",
          "components": { "policy": "reporting" },
          "vms": [ { "name": "vm0", "memory": "4M" } ],
          "steps": [ { "op": "guest.write", "vm": "vm0", "gpa": "0x3000", "data": "0x01", "expect": "ok" } ]
        }
        """;

    [Fact]
    public void Run_PolicyFromAFactory_GetsTheRunsKernelServices()
    {
        var services = new ServiceCollection();
        services.AddVmmCore();
        new BaselinePlugin().ConfigureServices(services);
        services.AddVmmComponent<IPrivateMemoryPolicy, ReportingPolicy>(ComponentKind.Policy, "reporting", "test",
            run => new ReportingPolicy(run.GetRequiredService<IFrameMetadata>(), run.GetRequiredService<IKernelLog>()));
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });

        var result = new ScenarioRunner(provider).Run(ScenarioJson.Parse(Scenario));

        Assert.True(result.Passed);
        Assert.Equal(["fault gfn 0x3 in use True"], result.Warnings);
    }

    [Fact]
    public void Run_EachRunScope_HasItsOwnKernelServices()
    {
        var services = new ServiceCollection();
        services.AddVmmCore();
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        using var a = provider.CreateScope();
        using var b = provider.CreateScope();

        var frames = a.ServiceProvider.GetRequiredService<IFrameMetadata>();

        Assert.Same(a.ServiceProvider.GetRequiredService<KernelServices>(), frames);
        Assert.Same(frames, a.ServiceProvider.GetRequiredService<IVmmControl>());
        Assert.NotSame(frames, b.ServiceProvider.GetRequiredService<IFrameMetadata>());
    }

    [Fact]
    public void Run_EachRunScope_HasItsOwnContentsAndLedger_TheMemoryControllerWorksOn()
    {
        var services = new ServiceCollection();
        services.AddVmmCore();
        services.AddVmmComponent<IMemoryController, RecordingMemory>(ComponentKind.Memory, "recording", "test");
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        using var a = provider.CreateScope();
        using var b = provider.CreateScope();

        var memory = (RecordingMemory)a.ServiceProvider.GetRequiredKeyedService<IMemoryController>("recording");

        Assert.Same(a.ServiceProvider.GetRequiredService<PhysicalMemory>(), memory.Contents);
        Assert.Same(a.ServiceProvider.GetRequiredService<CostLedger>(), memory.Ledger);
        Assert.NotSame(memory.Contents, b.ServiceProvider.GetRequiredService<IPhysicalMemory>());
        Assert.NotSame(memory.Ledger, b.ServiceProvider.GetRequiredService<ICostLedger>());
    }

    [Fact]
    public void Contents_UsedBeforeTheMachineSizesThem_Throw_AndAreSizedOnce()
    {
        var contents = new PhysicalMemory();

        var e = Assert.Throws<InvalidOperationException>(() => contents.Peek(new Pfn(1)));
        Assert.Contains("before the run's machine was built", e.Message);
        contents.Bind(16);
        Assert.True(contents.Peek(new Pfn(1)).IsEmpty);
        Assert.Throws<InvalidOperationException>(() => contents.Bind(16));
    }

    /// <summary>A controller that only keeps what its constructor was given.</summary>
    private sealed class RecordingMemory(IPhysicalMemory contents, ICostLedger ledger) : InertMemoryController
    {
        public IPhysicalMemory Contents { get; } = contents;
        public ICostLedger Ledger { get; } = ledger;
    }

    [Fact]
    public void Service_UsedBeforeTheMachineIsBuilt_Throws()
    {
        var services = new KernelServices();

        var e = Assert.Throws<InvalidOperationException>(() => services.GetFlags(new Pfn(1)));
        Assert.Contains("before the run's machine was built", e.Message);
    }

    [Fact]
    public void Components_ForASecondMachine_AreRefused()
    {
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        var components = new SimulationComponents(new PlainMemoryController(contents, ledger), new NonePolicy(), new LinuxFaultDelivery(), new RadixPageTableFactory(), null, new KernelOptions(), new CostOptions())
        {
            Contents = contents,
            Ledger = ledger,
        };
        var scenario = new Vmm.Core.Scenarios.Scenario { File = "test", Name = "test", Vms = [TestMachine.Vm(TestMachine.DefaultVm)] };
        _ = new Simulation(scenario, components);

        Assert.Throws<InvalidOperationException>(() => _ = new Simulation(scenario, components));
    }
}
