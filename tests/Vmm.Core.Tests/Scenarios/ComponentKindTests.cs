using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>Component kinds are an open set: the well-known five plus any a plugin defines.</summary>
public class ComponentKindTests
{
    public interface IWorkloadLike;

    public sealed class BootWorkload : IWorkloadLike;

    private static readonly ComponentKind Workload = new("workload", typeof(IWorkloadLike));

    [Fact]
    public void PluginKind_RegistersAndResolvesByName()
    {
        var services = new ServiceCollection();
        services.AddVmmComponent<IWorkloadLike, BootWorkload>(Workload, "boot", "a seeded boot");
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();

        var descriptor = Assert.Single(provider.GetServices<ComponentDescriptor>());
        Assert.Equal(new ComponentKind("workload", typeof(IWorkloadLike)), descriptor.Kind);
        Assert.Equal("workload", descriptor.Kind.Key());
        Assert.IsType<BootWorkload>(scope.ServiceProvider.GetRequiredKeyedService<IWorkloadLike>("boot"));
    }

    [Fact]
    public void Register_UnderAnotherKindsContract_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddVmmComponent<IWorkloadLike, BootWorkload>(ComponentKind.Policy, "boot", "wrong kind"));
        Assert.Contains("A policy component must implement IPrivateMemoryPolicy, not IWorkloadLike", e.Message);
    }

    [Theory]
    [InlineData("Workload")]
    [InlineData("work load")]
    [InlineData("")]
    public void Kind_WhoseNameIsNoScenarioKey_IsRejected(string name)
        => Assert.ThrowsAny<ArgumentException>(() => new ComponentKind(name, typeof(IWorkloadLike)));

    [Fact]
    public void TryParse_KnowsTheScenarioKinds_NotAPluginsOwn()
    {
        Assert.True(ComponentKinds.TryParse("pagetable", out var kind));
        Assert.Equal(ComponentKind.PageTable, kind);
        Assert.False(ComponentKinds.TryParse("workload", out _));
    }

    [Fact]
    public void Order_IsTheWellKnownOrderThenByName()
    {
        ComponentKind[] kinds = [Workload, ComponentKind.PageTable, new("alpha", typeof(IWorkloadLike)), ComponentKind.Policy, ComponentKind.Faults, ComponentKind.Thp, ComponentKind.Memory];

        Assert.Equal(["memory", "policy", "thp", "faults", "pagetable", "alpha", "workload"], kinds.Order().Select(k => k.Name));
    }
}
