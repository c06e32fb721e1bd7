using Microsoft.Extensions.DependencyInjection;

namespace Vmm.Abstractions;

/// <summary>Registration helpers: a component is a keyed scoped service (one instance per run) plus a descriptor.</summary>
public static class VmmServiceCollectionExtensions
{
    /// <summary>Registers a component without options.</summary>
    public static IServiceCollection AddVmmComponent<TContract, TImpl>(this IServiceCollection services, ComponentKind kind, string name, string description)
        where TContract : class
        where TImpl : class, TContract
    {
        CheckContract<TContract>(kind);
        services.AddSingleton(new ComponentDescriptor(kind, name, description, typeof(TImpl)));
        services.AddKeyedScoped<TContract>(name, (sp, _) => ActivatorUtilities.CreateInstance<TImpl>(sp));
        return services;
    }

    /// <summary>Registers a component whose constructor takes <typeparamref name="TOptions"/>, bound from `options` keys "section.*".</summary>
    public static IServiceCollection AddVmmComponent<TContract, TImpl, TOptions>(this IServiceCollection services, ComponentKind kind, string name, string description, string? optionsSection = null)
        where TContract : class
        where TImpl : class, TContract
        where TOptions : class, new()
    {
        CheckContract<TContract>(kind);
        var section = optionsSection ?? name;
        services.AddSingleton(new ComponentDescriptor(kind, name, description, typeof(TImpl), typeof(TOptions), section));
        services.AddKeyedScoped<TContract>(name, (sp, _) =>
        {
            var options = sp.GetRequiredService<IComponentOptionsSource>().Get<TOptions>(section);
            return ActivatorUtilities.CreateInstance<TImpl>(sp, options);
        });
        return services;
    }

    /// <summary>
    /// Registers a component built by <paramref name="create"/> from the run's services: the kernel services
    /// (<see cref="IFrameMetadata"/>, <see cref="IUnmapService"/>, <see cref="IThpMechanics"/>, <see cref="IHugePmdMechanics"/>, <see cref="IVmmControl"/>,
    /// <see cref="IKernelLog"/>), the machine's <see cref="IPhysicalMemory"/> and <see cref="ICostLedger"/>, and anything else the host registered.
    /// </summary>
    public static IServiceCollection AddVmmComponent<TContract, TImpl>(this IServiceCollection services, ComponentKind kind, string name, string description, Func<IServiceProvider, TImpl> create)
        where TContract : class
        where TImpl : class, TContract
    {
        ArgumentNullException.ThrowIfNull(create);
        CheckContract<TContract>(kind);
        services.AddSingleton(new ComponentDescriptor(kind, name, description, typeof(TImpl)));
        services.AddKeyedScoped<TContract>(name, (sp, _) => create(sp));
        return services;
    }

    /// <summary>As the factory overload above, with <typeparamref name="TOptions"/> bound from `options` keys "section.*".</summary>
    public static IServiceCollection AddVmmComponent<TContract, TImpl, TOptions>(this IServiceCollection services, ComponentKind kind, string name, string description, Func<IServiceProvider, TOptions, TImpl> create, string? optionsSection = null)
        where TContract : class
        where TImpl : class, TContract
        where TOptions : class, new()
    {
        ArgumentNullException.ThrowIfNull(create);
        CheckContract<TContract>(kind);
        var section = optionsSection ?? name;
        services.AddSingleton(new ComponentDescriptor(kind, name, description, typeof(TImpl), typeof(TOptions), section));
        services.AddKeyedScoped<TContract>(name, (sp, _) => create(sp, sp.GetRequiredService<IComponentOptionsSource>().Get<TOptions>(section)));
        return services;
    }

    private static void CheckContract<TContract>(ComponentKind kind)
    {
        if (kind.Contract != typeof(TContract))
            throw new ArgumentException($"A {kind.Name} component must implement {kind.Contract.Name}, not {typeof(TContract).Name}.", nameof(kind));
    }
}
